"""Figures to PDF and the notebook chain: papermill execution, then HTML reports."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..config import REPO_ROOT, get_paths
from .outputs import markdown_table, update_generated, writes_generated

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def study_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]*_*.ipynb"))   # 02b slots in before 03


def select_notebooks(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """The notebooks named in ``only`` by their id (``02`` is ``02_yamnet``, never ``02b_pretraining``) or full stem.

    An id that names no notebook is an error that lists the ids there are: a typo must not run nothing, or more.
    """
    if not only:
        return list(notebooks)
    ids = [nb.stem.split("_", 1)[0] for nb in notebooks]
    names = set(ids) | {nb.stem for nb in notebooks}
    unknown = [o for o in only if o not in names]
    if unknown:
        raise ValueError(f"no notebook {', '.join(unknown)}; the notebooks are {', '.join(ids)}")
    return [nb for nb, nb_id in zip(notebooks, ids) if nb_id in only or nb.stem in only]


def machine() -> dict:
    """What a time was measured on: cores, CPU model, load when the notebook started (machines are shared), commit."""
    import platform
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "cpu": cpu, "load_1min": round(os.getloadavg()[0], 2), "commit": commit}


def to_html(executed: Path, out_dir: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    local_mathjax = Path("/usr/share/javascript/mathjax/MathJax.js")
    if local_mathjax.exists():   # offline machines: Debian's libjs-mathjax instead of the CDN
        exporter.mathjax_url = f"file://{local_mathjax}?config=TeX-AMS_CHTML-full,Safe"
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    out = out_dir / f"{executed.stem}.html"
    out.write_text(body, encoding="utf-8")
    return out


# What each notebook reads from the notebooks before it (by id). With ``jobs=2`` the chain runs two notebooks at once
# when neither needs the other; the numbered order stays a valid order. 02b's teacher reads 02's YAMNet trunk cache
# (run side by side, both computed it). 05, 05b and 05c each rewrite the model card from all three's reports
# (``report_text.write_model_card``), in whatever order they finish.
NEEDS = {"02": ("01",), "02b": ("02",), "03": ("02b",), "04": ("02", "03"), "05": ("04",), "05b": ("04",),
         "05c": ("04",), "06": ("02b",), "07": ("05c",)}
# while two notebooks share the cores, each library's kernels get one thread: pools sized to the machine in both
# kernels oversubscribe 2 cores and slow each other far more than 2x
ONE_THREAD_ENV = {v: "1" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                   "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}


def notebook_id(nb: Path) -> str:
    return nb.stem.split("_", 1)[0]


def in_dependency_order(notebooks: list[Path], run, jobs: int = 1) -> list:
    """``run(nb)`` for every notebook, at most ``jobs`` at once, each once the notebooks it ``NEEDS`` (among those
    given) have finished. Results in the given order. The first failure stops new starts and is raised once the
    notebooks already running have finished."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    ids = [notebook_id(nb) for nb in notebooks]
    needs = {i: set(NEEDS.get(i, ())) & set(ids) for i in ids}
    results, running = {}, {}
    with ThreadPoolExecutor(jobs) as pool:
        while len(results) < len(ids):
            for nb, i in zip(notebooks, ids):
                if len(running) < jobs and i not in results and i not in running.values() and needs[i] <= results.keys():
                    running[pool.submit(run, nb)] = i
            if not running:
                raise ValueError(f"notebooks {sorted(set(ids) - results.keys())} need each other (NEEDS has a cycle)")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                results[running.pop(future)] = future.result()
    return [results[i] for i in ids]


def execute_notebook(nb: Path, out: Path, parameters: dict, env: dict | None = None) -> None:
    """papermill in its own process (``python -m crysense.reporting``, so two can run at once, each with its own
    environment); a failure raises with the end of papermill's report, which names the failing cell, and keeps the
    partly executed copy at ``out``."""
    log_cells = bool(os.environ.get("CRYSENSE_LOG_CELLS"))
    cmd = [sys.executable, "-m", "crysense.reporting", str(nb), str(out), json.dumps(parameters), str(int(log_cells))]
    done = subprocess.run(cmd, env=env, text=True, capture_output=not log_cells)
    if done.returncode:
        raise RuntimeError(f"{nb.name} failed (partly executed copy: {out}):\n{(done.stderr or '')[-4000:]}")


def papermill_here(nb: str, out: str, parameters: str, log_cells: str) -> None:
    """``execute_notebook``'s child. Its kernel talks over files of a folder of its own (ZeroMQ IPC), not TCP ports:
    two kernels starting at once on TCP can draw the same free port (seen: 'ZMQError: Address already in use',
    then 'Kernel didn't respond in 60 seconds')."""
    import tempfile

    import papermill as pm
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="crysense-kernel-") as sockets:
        class PrivateSocketsKernelManager(KernelManager):
            def __init__(self, **kw):
                super().__init__(**kw)
                self.transport, self.ip = "ipc", str(Path(sockets) / "kernel")

        pm.execute_notebook(nb, out, cwd=str(NOTEBOOKS_DIR), kernel_name="python3", parameters=json.loads(parameters),
                            progress_bar=False, log_output=log_cells == "1",
                            kernel_manager_class=PrivateSocketsKernelManager)


def run_notebooks(smoke: bool = False, out_root=None, only: list[str] | None = None,
                  extra_parameters: dict | None = None, jobs: int = 1) -> list[dict]:
    """Execute the numbered notebooks with papermill, each after those it ``NEEDS``, ``jobs`` at a time; write
    ``reports/<name>.html``.

    Every notebook gets the parameters ``smoke`` and ``out_root`` (where its outputs go). Stops starting notebooks
    at the first that fails (papermill keeps the partly executed copy for reading). The full study runs one at a
    time (``jobs=1``), so each notebook's time is its own; smoke runs take two at a time.
    """
    # reports stay readable (kernels inherit these): transformers' per-load weight bars and load reports (a new head
    # is "MISSING" by design) are off, and so are progress bars (`config.progress_bar`: each refresh would stand on a
    # line of its own in a report; the chain's log says when each notebook starts and ends), unless the cells stream
    # to the terminal (CRYSENSE_LOG_CELLS). TensorFlow's C++ start-up is silenced in `yamnet.tf_runtime`.
    bars = {"TQDM_MININTERVAL": "20"} if os.environ.get("CRYSENSE_LOG_CELLS") else {"CRYSENSE_PROGRESS": "0"}
    # tqdm.auto, imported by transformers, warns (with the path of its file) that the kernel has no ipywidgets: the
    # plain bars it falls back to are what a report wants anyway
    env = {**bars, "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error",
           "PYTHONWARNINGS": "ignore:IProgress not found",
           **os.environ, **(ONE_THREAD_ENV if jobs > 1 else {})}
    paths = get_paths(out_root).ensure()
    executed_dir = paths.reports / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    # the repository itself is the default root: its absolute path would show in every report's parameters cell
    out_root_parameter = "" if paths.root == REPO_ROOT else str(paths.root)
    parameters = {"smoke": smoke, "out_root": out_root_parameter, **(extra_parameters or {})}

    def run(nb: Path) -> dict:
        t0, on = time.time(), {**machine(), "jobs": jobs}   # jobs > 1: the time shared the cores with another notebook
        print(f"== {nb.name} (smoke={smoke}) started", flush=True)
        execute_notebook(nb, executed_dir / nb.name, parameters, env)
        html = to_html(executed_dir / nb.name, paths.reports)
        on["load_1min_end"] = round(os.getloadavg()[0], 2)
        record = {"notebook": nb.name, "seconds": round(time.time() - t0, 1),
                  "html": str(html.relative_to(paths.root)), "machine": on}
        print(f"   {nb.name}: {record['seconds']} s -> {html}", flush=True)
        return record

    times = in_dependency_order(select_notebooks(study_notebooks(), only), run, jobs)
    # a partial run (``only``) updates its notebooks' times and keeps the others' from earlier runs
    log = paths.reports / f"run_times{'_smoke' if smoke else ''}.json"
    earlier = {t["notebook"]: t for t in json.loads(log.read_text())} if log.exists() else {}
    merged = {**earlier, **{t["notebook"]: t for t in times}}
    records = [merged[k] for k in sorted(merged)]
    log.write_text(json.dumps(records, indent=1))
    if writes_generated(paths, smoke):
        update_generated("run_times", run_times_markdown(records))
        update_generated("run_total", run_total_markdown(records))
    return times


def run_times_markdown(records: list[dict]) -> str:
    """Each notebook's last run (``reports/run_times.json``): minutes, commit, machine and its 1-minute load when the
    notebook started and ended (above the core count: another job shared the cores, so the time is inflated), and the
    chain's sum."""
    import pandas as pd
    def row(r):
        on = r["machine"]
        return {"notebook": r["notebook"].removesuffix(".ipynb"), "minutes": round(r["seconds"] / 60, 1),
                "commit": on.get("commit", ""),
                "load at start / end": f"{on.get('load_1min', '')} / {on.get('load_1min_end', 'n/a')}",
                "machine": f"{on.get('cores')} cores, {on.get('cpu')}"
                           + (f", {on['jobs']} notebooks at a time" if on.get("jobs", 1) > 1 else "")}
    rows = pd.DataFrame([row(r) for r in records])
    total = rows["minutes"].sum()
    return (markdown_table(rows, floatfmt=".1f", index=False) + f"\n\nSum of the notebooks' last runs: {total:.0f} min "
            f"({total / 60:.1f} h). Written by `crysense.reporting.runner` from `reports/run_times.json`; "
            "`python bench/notebook_times.py` prints the same.")


def run_total_markdown(records: list[dict]) -> str:
    """The README's one line on what the study costs: the sum of the notebooks' last full runs, from the record."""
    minutes = sum(r["seconds"] for r in records) / 60
    cores = sorted({r["machine"].get("cores") for r in records})
    commits = sorted({r["machine"].get("commit", "") for r in records})
    return (f"the notebooks' last full runs sum to **{minutes:.0f} minutes** ({minutes / 60:.1f} h) on "
            f"{'/'.join(str(c) for c in cores)} cores, at {len(commits)} commit{'s' if len(commits) > 1 else ''} "
            "([Reproduction](docs/source/reproduction.md) has each notebook's time, commit and load); the set-up "
            "adds a few minutes the first time. Written by `crysense.reporting.runner` from `reports/run_times.json`.")
