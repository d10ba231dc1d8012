"""The Temporal Web UI seen by a real browser: headless Chromium (Debian's `chromium`) loads the workflow list of
a local server, so a test can check that a stream workflow is listed and a report can show a screenshot."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# headless in a container: no sandbox (root), no GPU; the virtual time budget lets the page's scripts fetch the list
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars")


def browser() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    raise FileNotFoundError("no headless browser: apt-get install -y chromium")


def workflows_url(ui_port: int, namespace: str = "default") -> str:
    return f"http://127.0.0.1:{ui_port}/namespaces/{namespace}/workflows"


def _run(url: str, *args: str, budget_ms: int, timeout_s: float) -> subprocess.CompletedProcess:
    return subprocess.run([browser(), *FLAGS, f"--virtual-time-budget={budget_ms}", *args, url],
                          capture_output=True, text=True, timeout=timeout_s)


def page_text(url: str, budget_ms: int = 20000, timeout_s: float = 120.0) -> str:
    """The page's DOM after its scripts ran."""
    return _run(url, "--dump-dom", budget_ms=budget_ms, timeout_s=timeout_s).stdout


def lists_workflow(ui_port: int, workflow_id: str, namespace: str = "default", attempts: int = 3,
                   pause_s: float = 2.0) -> bool:
    """Whether the UI's workflow list shows ``workflow_id`` (a few bounded attempts: the list is read from the
    server's visibility store, which lags a new workflow by a moment)."""
    for k in range(attempts):
        if workflow_id in page_text(workflows_url(ui_port, namespace)):
            return True
        if k + 1 < attempts:
            time.sleep(pause_s)
    return False


def screenshot(url: str, path, size=(1400, 800), budget_ms: int = 20000, timeout_s: float = 120.0) -> Path:
    """A PNG of the page as a 1400 x 800 browser window shows it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(url, f"--window-size={size[0]},{size[1]}", f"--screenshot={path.resolve()}", budget_ms=budget_ms,
         timeout_s=timeout_s)
    if not path.exists() or path.stat().st_size == 0:
        raise RuntimeError(f"{browser()} wrote no screenshot of {url}")
    return path


def screenshot_figure(png):
    """The screenshot as a matplotlib figure (the report's figures are PDFs)."""
    import matplotlib.pyplot as plt
    image = plt.imread(str(png))
    fig, ax = plt.subplots(figsize=(image.shape[1] / 150, image.shape[0] / 150), dpi=150)
    ax.imshow(image)
    ax.axis("off")
    fig.tight_layout(pad=0)
    return fig
