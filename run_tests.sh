#!/usr/bin/env bash
# The test command: set-up (venv, deps, ffmpeg), the linter (ruff, rules in pyproject.toml), the docs build, then pytest. Tests
# are hermetic and small; one of them executes every notebook in smoke mode. Extra arguments go to pytest
# (e.g. -n 0 for one process).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
source scripts/env.sh
ruff check --quiet src tests temporal_workflow bench notebooks
# the docs site: a broken link, or a page missing from the navigation, fails the build
mkdocs build --strict --quiet -f docs/mkdocs.yml -d "$(mktemp -d)"
# one thread per library pool (TensorFlow, PyTorch, BLAS) in every test process and notebook kernel: two test
# workers, and the smoke chain's two kernels, share 2 cores, and pools sized to the machine in each oversubscribe them
# (measured: the tests other than the chain took 190 s instead of 239 s, and 272 CPU-s instead of 365).
# reporting.ONE_THREAD_ENV is the same list for notebooks run two at a time.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
# two workers (pytest-xdist), tests handed out one at a time so a long one never holds short ones behind it;
# the 15 slowest tests are listed (issue 18: the test command within 8 minutes)
python -m pytest -q -n 2 --maxschedchunk 1 --durations=15 "$@"
