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
from crysense.reporting import run_notebooks
smoke = sys.argv[1] == "True"
run_notebooks(smoke=smoke, only=sys.argv[2:] or None, out_root="/tmp/crysense_smoke" if smoke else None)
PY
echo "run_all.sh finished in $(( $(date +%s) - start )) s"
