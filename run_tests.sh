#!/usr/bin/env bash
# The test command: set-up (venv, deps, ffmpeg), then pytest. Tests are hermetic and small; one of them
# executes every notebook in smoke mode. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
source scripts/env.sh
python -m pytest -q "$@"
