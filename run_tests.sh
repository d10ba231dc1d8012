#!/usr/bin/env bash
# The test command: set-up (venv, deps, ffmpeg), the linter (ruff, rules in pyproject.toml), then pytest. Tests
# are hermetic and small; one of them executes every notebook in smoke mode. Extra arguments go to pytest
# (e.g. -n 0 for one process).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
source scripts/env.sh
ruff check --quiet src tests temporal_workflow bench notebooks
# two workers (pytest-xdist), tests handed out one at a time so a long one never holds short ones behind it;
# the 15 slowest tests are listed (issue 18: the test command within 8 minutes)
python -m pytest -q -n 2 --maxschedchunk 1 --durations=15 "$@"
