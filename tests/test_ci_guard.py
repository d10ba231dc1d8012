"""Under CI=true, tests cannot pass by skipping: a missing ``../shared`` input stops the test command with one line."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_pytest(tmp_path, **env):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                           "tests/test_sources.py", "--collect-only"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "CRYSENSE_DATA": str(tmp_path / "no-data"), **env}, timeout=120)


def test_missing_shared_data_fails_under_ci_with_one_line(tmp_path):
    done = run_pytest(tmp_path, CI="true")
    assert done.returncode == 3
    line = [ln for ln in done.stdout.splitlines() + done.stderr.splitlines() if "CI=true and the shared inputs" in ln]
    assert len(line) == 1 and "data source donateacry" in line[0] and str(tmp_path / "no-data") in line[0]


def test_missing_shared_data_is_a_skip_outside_ci(tmp_path):
    done = run_pytest(tmp_path, CI="")
    assert done.returncode == 0 and "CI=true" not in done.stdout
