#!/usr/bin/env bash
# The whole study, end to end: set-up, then every numbered notebook with papermill, in order.
# Outputs: data_manifest.csv, data_quarantine.csv, reports/*.html, plots/*.pdf, models/.
# Usage: ./run_all.sh [--smoke] [--jobs=N] [NOTEBOOK_ID ...]    e.g. ./run_all.sh 01 02 (02 is 02_yamnet; 02b is its own)
# --jobs=2 runs two notebooks at once where neither needs the other (crysense.reporting.NEEDS), one thread each:
# the default for --smoke; the full study defaults to one at a time, so each notebook's time in the README is its own
# (bench/thread_scaling.py measures what two at a time would gain).
set -euo pipefail
cd "$(dirname "$0")"
SMOKE=False
JOBS=""
ONLY=()
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=True ;;
    --jobs=[1-9]) JOBS="${a#--jobs=}" ;;
    --*) echo "run_all.sh: unknown option $a" >&2; exit 1 ;;
    *) ONLY+=("$a") ;;
  esac
done
start=$(date +%s)
bash scripts/setup.sh
source scripts/env.sh
python - "$SMOKE" "$JOBS" "${ONLY[@]}" <<'PY'
import sys
from crysense.reporting import run_notebooks, select_notebooks, study_notebooks
smoke, jobs, only = sys.argv[1] == "True", int(sys.argv[2] or (2 if sys.argv[1] == "True" else 1)), sys.argv[3:] or None
try:   # a mistyped id is the user's error: one line and exit 1, not a traceback
    select_notebooks(study_notebooks(), only)
except ValueError as e:
    sys.exit(f"run_all.sh: {e}")
run_notebooks(smoke=smoke, only=only, out_root="/tmp/crysense_smoke" if smoke else None, jobs=jobs)
PY
echo "run_all.sh finished in $(( $(date +%s) - start )) s"
