#!/usr/bin/env bash
# The whole study, end to end: set-up, then every numbered notebook with papermill, in order.
# Outputs: data_manifest.csv, data_quarantine.csv, reports/*.html, plots/*.pdf, models/.
# Usage: ./run_all.sh [--smoke] [NOTEBOOK_ID ...]    e.g. ./run_all.sh 01 02 (02 is 02_yamnet; 02b is its own id)
set -euo pipefail
cd "$(dirname "$0")"
SMOKE=False
ONLY=()
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=True ;;
    *) ONLY+=("$a") ;;
  esac
done
start=$(date +%s)
bash scripts/setup.sh
source scripts/env.sh
python - "$SMOKE" "${ONLY[@]}" <<'PY'
import sys
from crysense.reporting import run_notebooks, select_notebooks, study_notebooks
smoke, only = sys.argv[1] == "True", sys.argv[2:] or None
try:   # a mistyped id is the user's error: one line and exit 1, not a traceback
    select_notebooks(study_notebooks(), only)
except ValueError as e:
    sys.exit(f"run_all.sh: {e}")
# smoke: two notebooks at once where neither needs the other; the full study one at a time, so each time is its own
run_notebooks(smoke=smoke, only=only, out_root="/tmp/crysense_smoke" if smoke else None, jobs=2 if smoke else 1)
PY
echo "run_all.sh finished in $(( $(date +%s) - start )) s"
