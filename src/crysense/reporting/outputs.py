"""What a run writes: figures as PDF, a notebook's JSON report, and the generated sections of the README and the
docs pages (between ``<!-- BEGIN generated:<section> -->`` markers), with the markdown tables they hold."""
from __future__ import annotations

import json
from pathlib import Path

from ..config import REPO_ROOT, get_paths


def save_figure(fig, name: str, paths=None) -> Path:
    """Save ``fig`` as ``plots/<name>.pdf`` and return that path relative to the run's root (what a report shows: no
    path of the machine that ran it). The notebook still shows the figure."""
    paths = paths or get_paths()
    paths.plots.mkdir(parents=True, exist_ok=True)
    out = paths.plots / f"{name}.pdf"
    fig.savefig(out, bbox_inches="tight")
    return out.relative_to(paths.root)


def publish(paths, name: str, report: dict, sections: dict | None = None) -> None:
    """Write ``reports/<name>.json``. A full run at the repository root also replaces each generated section of
    ``sections`` (section -> markdown) in the README and the docs pages; smoke runs (``report["smoke"]``) and runs
    elsewhere never touch them."""
    (paths.reports / f"{name}.json").write_text(json.dumps(report, indent=1, default=float))
    if writes_generated(paths, report["smoke"]):
        for section, markdown in (sections or {}).items():
            update_generated(section, markdown)


def writes_generated(paths, smoke: bool) -> bool:
    """Only a full run whose outputs go to the repository itself writes its figures into the README and docs."""
    return not smoke and Path(paths.root).resolve() == REPO_ROOT


def generated_files(root: Path = REPO_ROOT) -> list[Path]:
    """The files that hold generated sections: the README and every docs page."""
    return [root / "README.md", *sorted((root / "docs" / "source").glob("*.md"))]


def update_generated(section: str, markdown: str, files: list[Path] | None = None) -> list[Path]:
    """Replace the text between ``<!-- BEGIN generated:<section> -->`` and its END marker in every file of ``files``
    (default: `generated_files`) that holds them; a section may stand in several (the headline results table is in
    the README and on the results page). Returns the files changed (none when no file holds the markers).

    Numbers in the README and the docs come from here, written by the run that measured them.
    """
    begin, end = f"<!-- BEGIN generated:{section} -->", f"<!-- END generated:{section} -->"
    changed = []
    for path in files if files is not None else generated_files():
        text = path.read_text(encoding="utf-8")
        if begin not in text or end not in text:
            continue
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        path.write_text(f"{head}{begin}\n{markdown.strip()}\n{end}{tail}", encoding="utf-8")
        changed.append(path)
    return changed


def markdown_table(df, floatfmt: str = ".3f", index: bool = True) -> str:
    """A small DataFrame as a GitHub markdown table (no extra dependency)."""
    def fmt(v):
        return format(v, floatfmt) if isinstance(v, float) else str(v)
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, *values in df.itertuples(name=None):   # itertuples keeps each column's type (iterrows upcasts)
        cells = ([str(idx)] if index else []) + [fmt(v) for v in values]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
