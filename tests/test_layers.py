"""The package's house rules, read from its imports (``ast``, nothing is imported): subpackages depend one way, in
the order of ``LAYERS`` (a package imports only those before it), no import cycle between modules, sibling imports
at module top unless the line says why it must stay lazy, and no private name imported across modules."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "crysense"
# lowest first; the README's docs/layout.md draws the same order
LAYERS = ("config", "provenance", "data", "training", "yamnet", "speech", "ensemble", "serving", "evaluation", "reasons",
          "reporting")
# the one import that runs against the order, on purpose: the hand-made log-mel features use YAMNet's front-end
# parameters (a plain dataclass; `crysense.yamnet` loads TensorFlow only when its models are used)
ALLOWED_UPWARD = {("data", "crysense.yamnet.params")}
# a sibling import inside a function must say why on its line (e.g. "# lazy: TensorFlow")
LAZY_MARK = "# lazy:"


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path):
    """(imported module, names, line, at module top?) for every crysense import of module ``name``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("crysense"):
                continue
            targets = [(f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module, a.name) for a in node.names]
            for target, imported in targets:
                yield target, imported, node.lineno, id(node) in top
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("crysense"):
                    yield a.name, a.name, node.lineno, id(node) in top


MODULES = modules()


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_subpackage_has_a_layer_and_says_what_it_owns():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages <= set(LAYERS), f"subpackages without a place in LAYERS: {subpackages - set(LAYERS)}"
    for sub in subpackages:
        doc = ast.get_docstring(ast.parse((PACKAGE / sub / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"crysense/{sub}/__init__.py must say what it owns and what it may import"


def test_dependencies_run_one_way():
    wrong = []
    for name, path in MODULES.items():
        here = layer(name)
        for target, _, line, _ in imports(name, path):
            there = layer(target)
            if here in LAYERS and there in LAYERS and LAYERS.index(there) > LAYERS.index(here) \
                    and (here, target) not in ALLOWED_UPWARD:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({here}) imports {target} ({there})")
    assert not wrong, "imports against the layer order " + " < ".join(LAYERS) + ":\n" + "\n".join(wrong)


def test_no_import_cycle_between_modules():
    graph = {name: {t for t, *_ in imports(name, path) if t in MODULES and t != name} for name, path in MODULES.items()}
    # a package's __init__ re-exporting its own modules is not a cycle of concerns
    graph = {n: {t for t in ts if not (n.startswith(t + ".") and MODULES[t].name == "__init__.py")} for n, ts in graph.items()}
    state, stack, cycles = {}, [], []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for t in sorted(graph[n]):
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[n] = "done"

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_sibling_imports_at_module_top_or_say_why():
    hidden = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for _, _, line, at_top in imports(name, path):
            if not at_top and LAZY_MARK not in lines[line - 1]:
                hidden.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {lines[line - 1].strip()}")
    assert not hidden, f"imports of crysense inside functions, without '{LAZY_MARK} <why>':\n" + "\n".join(sorted(set(hidden)))


def test_no_private_name_crosses_modules():
    crossing = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported} from {target}"
                for name, path in MODULES.items() for target, imported, line, _ in imports(name, path)
                if imported.startswith("_") and not imported.startswith("__")]
    assert not crossing, "\n".join(crossing)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.count(".") == 1 and MODULES[m].name == "__init__.py"))
def test_importing_a_subpackage_is_light(module):
    """A subpackage's ``__init__`` imports no module that loads TensorFlow or PyTorch (the Temporal workflow sandbox
    and the CLI's start import ``crysense.serving`` and ``crysense.config``)."""
    heavy = [t for t, *_ in imports(module, MODULES[module]) if t in MODULES and t != module
             and any(w in MODULES[t].read_text() for w in ("import tensorflow", "import torch", "from torch"))]
    assert not heavy, f"{module} imports {heavy} at import time"


def test_a_cache_keyed_on_code_follows_only_the_modules_it_runs(tmp_path, monkeypatch):
    """The leave-one-source-out fold cache (`provenance.code_digest` of `evaluation.loso`): a change to YAMNet's
    fine-tuning, which a fold runs, is a new key; a change to the command line, which no fold runs, is not."""
    import shutil

    from crysense import provenance

    copy = tmp_path / "crysense"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)

    def digest():
        provenance.direct_imports.cache_clear()
        return provenance.code_digest(["crysense.evaluation.loso"])

    assert "crysense.yamnet.finetuning" in provenance.closure(["crysense.evaluation.loso"])
    before = digest()
    (copy / "serving" / "cli.py").write_text((copy / "serving" / "cli.py").read_text() + "\n# a comment\n")
    assert digest() == before
    (copy / "yamnet" / "finetuning.py").write_text((copy / "yamnet" / "finetuning.py").read_text() + "\n# a comment\n")
    assert digest() != before
