"""Per-notebook time report of the last full run (issue 18: the whole chain within 45 minutes on 2 cores).

    .venv/bin/python bench/notebook_times.py [reports/run_times.json]

Each notebook's minutes, the commit it ran at, the machine and its load when it started and ended, and the
chain's sum.
"""
import json
import sys
from pathlib import Path

from crysense.config import REPO_ROOT
from crysense.reporting import run_times_markdown

if __name__ == "__main__":
    log = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / "reports" / "run_times.json"
    print(run_times_markdown(json.loads(log.read_text())))
