#!/usr/bin/env bash
# Idempotent set-up shared by run_all.sh and run_tests.sh: Debian ffmpeg (3gp/caf/mp3 decoding), a venv
# with the pinned requirements, and crysense installed in it. Re-runs skip what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CRYSENSE_VENV:-.venv}

# Debian packages: ffmpeg decodes 3gp/caf/mp3 (and serves the tests' live sources); mosquitto is the MQTT
# broker the notification tests start on loopback (and a broker a monitor can use); postgresql is the server the
# PostgreSQL results store is tested against (the tests start their own cluster on loopback); chromium loads the
# Temporal Web UI headless (a test checks a stream workflow is listed; notebook 07 keeps a screenshot)
missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] installing Debian ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "[setup] missing: run 'sudo apt-get install -y ${missing[*]}'" >&2; exit 1
  fi
fi

PY=$(command -v python3.11 || command -v python3)
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing requirements into $VENV (first time: ~3 min, 4.3 GB)"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  # torch==2.13.0 first and alone: a CPU build; nothing later may pull another torch
  "$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$VENV/.installed"
fi
