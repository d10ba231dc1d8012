"""Which of the package's source files a computation can run, read from the imports (``ast``; nothing is imported):
a cache keyed on them (the leave-one-source-out folds) is invalidated by a change to that code and by nothing else,
e.g. not by a docstring of the command line."""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def module_path(module: str) -> Path | None:
    """``crysense.a.b`` -> its file (a module or a package's ``__init__``), None if there is none."""
    rel = Path(*module.split(".")[1:])
    if module == "crysense":
        return PACKAGE_DIR / "__init__.py"
    for candidate in (PACKAGE_DIR / rel.with_suffix(".py"), PACKAGE_DIR / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=None)
def direct_imports(module: str) -> frozenset[str]:
    """The crysense modules ``module`` imports anywhere in its file (inside functions too), with their packages."""
    path = module_path(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("crysense"):
                continue
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if module_path(f"{base}.{a.name}"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("crysense"))
    # importing a.b.c runs a/__init__ and a/b/__init__ too
    with_packages = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 2)}
    return frozenset(m for m in with_packages if module_path(m))


def closure(modules) -> list[str]:
    """Every crysense module the given ones can import, directly or not (themselves included), sorted."""
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        if m not in seen and module_path(m):
            seen.add(m)
            todo.extend(direct_imports(m))
    return sorted(seen)


def code_digest(modules) -> str:
    """sha256 over the names and bytes of ``closure(modules)``'s files."""
    h = hashlib.sha256()
    for m in closure(modules):
        h.update(m.encode() + b"\0" + module_path(m).read_bytes())
    return h.hexdigest()
