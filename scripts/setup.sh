#!/usr/bin/env bash
# Idempotent set-up shared by run_all.sh and run_tests.sh: Debian packages (below), a venv with the pinned
# requirements, and crysense installed in it. Re-runs skip what is already in place. The Debian packages and the
# venv install run side by side (one waits on the network and dpkg, the other on PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CRYSENSE_VENV:-.venv}

# Debian packages: ffmpeg does the codec round trips of augmentation and serves the tests' live sources (decoding
# is in-process, by PyAV); mosquitto is the MQTT broker the notification tests start on loopback (and a broker a
# monitor can use); postgresql is the server the PostgreSQL results store is tested against (the tests start their
# own cluster on loopback); chromium loads the Temporal Web UI headless (a test checks a stream workflow is listed;
# notebook 07 keeps a screenshot)
missing=()
apt_pid=
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] installing Debian ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) &
    apt_pid=$!
  else
    echo "[setup] missing: run 'sudo apt-get install -y ${missing[*]}'" >&2; exit 1
  fi
fi

PY=$(command -v python3.11 || command -v python3)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing requirements into $VENV (first time: ~1.5 min, 4.3 GB)"
  # torch==2.13.0 first, by pip: a CPU build (pip finds the local file; uv does not look there); nothing later may
  # pull another torch
  "$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0 uv==0.13.9
  # uv resolves and installs the rest in parallel: the same versions pip picks, in ~20 s instead of ~3 min
  "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -r requirements.txt
  "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --no-deps -e .
  echo "$want" > "$VENV/.installed"
fi
if [ -n "$apt_pid" ] && ! wait "$apt_pid"; then
  echo "[setup] apt-get install of ${missing[*]} failed" >&2; exit 1
fi
