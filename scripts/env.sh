# Sourced by run_all.sh / run_tests.sh after setup.sh: the venv and the run-time environment.
VENV=${CRYSENSE_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/cache/numba}"   # librosa's JIT: compile once
export TF_USE_LEGACY_KERAS=1                                   # YAMNet's Keras 2 layer names
export TF_CPP_MIN_LOG_LEVEL=2
export PYTHONUNBUFFERED=1
mkdir -p "$NUMBA_CACHE_DIR"
