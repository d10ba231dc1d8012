#!/usr/bin/env bash
# The test command: set-up (venv, deps, ffmpeg), the linter (ruff, rules in pyproject.toml), then pytest. Tests
# are hermetic and small; one of them executes every notebook in smoke mode. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
source scripts/env.sh
ruff check --quiet src tests temporal_workflow bench notebooks
python -m pytest -q "$@"
