"""Report generation: README sections replaced between their markers only, markdown tables that keep values and
types, the machine a time was measured on, and the results text built from a metrics report."""
from pathlib import Path

import pandas as pd
import pytest

from crysense.reporting import outputs, runner
from crysense.reporting import text as report_text


def test_a_generated_section_is_replaced_in_every_file_that_holds_it_and_nothing_else(tmp_path):
    readme, page, other = tmp_path / "README.md", tmp_path / "results.md", tmp_path / "data.md"
    readme.write_text("intro\n<!-- BEGIN generated:a -->\nold a\n<!-- END generated:a -->\nmiddle\n"
                      "<!-- BEGIN generated:b -->\nold b\n<!-- END generated:b -->\nend\n")
    page.write_text("# Results\n<!-- BEGIN generated:a -->\nold a\n<!-- END generated:a -->\n")
    other.write_text("# Data\n")
    assert outputs.update_generated("a", "new a\n", [readme, page, other]) == [readme, page]
    assert readme.read_text() == ("intro\n<!-- BEGIN generated:a -->\nnew a\n<!-- END generated:a -->\nmiddle\n"
                                  "<!-- BEGIN generated:b -->\nold b\n<!-- END generated:b -->\nend\n")
    assert page.read_text() == "# Results\n<!-- BEGIN generated:a -->\nnew a\n<!-- END generated:a -->\n"
    before = readme.read_text()
    assert outputs.update_generated("missing", "x", [readme, page, other]) == [] and readme.read_text() == before


def test_every_generated_section_the_study_writes_has_a_place():
    """Each section a notebook, the runner or the model card publishes stands in the README or a docs page."""
    import json
    import re
    text = "".join(p.read_text() for p in outputs.generated_files())
    placed = set(re.findall(r"<!-- BEGIN generated:(\w+) -->", text))
    published = set()
    for nb in (outputs.REPO_ROOT / "notebooks").glob("*.ipynb"):
        code = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
        for call in re.findall(r"publish\(paths, '\w+', (?:\w+|\{[^}]*\}), (\{.*?\})\)", code, re.S):
            published |= set(re.findall(r"'(\w+)':", call))
    assert published and published <= placed, f"sections without a place: {published - placed}"
    assert {"run_times", "run_total", "results"} <= placed


def test_markdown_table_keeps_types_and_index():
    df = pd.DataFrame({"n": [3, 40], "f1": [0.12345, 1.0], "name": ["a", "b"]}, index=pd.Index(["x", "y"], name="row"))
    lines = outputs.markdown_table(df).split("\n")
    assert lines[0] == "| row | n | f1 | name |" and lines[1] == "|---|---|---|---|"
    assert lines[2] == "| x | 3 | 0.123 | a |" and lines[3] == "| y | 40 | 1.000 | b |"   # ints stay ints
    assert outputs.markdown_table(df, index=False).split("\n")[2] == "| 3 | 0.123 | a |"


def test_notebooks_are_chosen_by_exact_id_and_an_unknown_id_is_an_error():
    nbs = [Path(f"{n}.ipynb") for n in ("01_data", "02_yamnet", "02b_pretraining", "05_evaluation", "05b_generalization")]
    assert runner.select_notebooks(nbs, None) == nbs
    assert [nb.stem for nb in runner.select_notebooks(nbs, ["02"])] == ["02_yamnet"]   # not 02b as well
    assert [nb.stem for nb in runner.select_notebooks(nbs, ["05b", "01"])] == ["01_data", "05b_generalization"]
    assert [nb.stem for nb in runner.select_notebooks(nbs, ["02b_pretraining"])] == ["02b_pretraining"]
    with pytest.raises(ValueError, match="no notebook 2; the notebooks are 01, 02, 02b, 05, 05b"):
        runner.select_notebooks(nbs, ["2"])
    names = {nb.stem.split("_")[0] for nb in runner.study_notebooks()}   # every real id selects exactly its own
    assert all(len(runner.select_notebooks(runner.study_notebooks(), [i])) == 1 for i in names)


def test_notebooks_run_after_what_they_need_two_at_a_time_and_a_failure_stops_new_starts():
    import threading
    import time
    nbs = runner.study_notebooks()
    ids = [runner.notebook_id(nb) for nb in nbs]
    assert set(runner.NEEDS) == set(ids) - {"01"}   # every notebook but the first says what it needs ...
    assert all(ids.index(n) < ids.index(i) for i, needs in runner.NEEDS.items() for n in needs)   # ... from before it
    started, finished, lock = [], [], threading.Lock()

    def run(nb):
        i = runner.notebook_id(nb)
        with lock:
            assert all(n in finished for n in runner.NEEDS.get(i, ()))
            started.append((i, len(started) - len(finished)))   # how many others were running when it started
        time.sleep(0.05)
        with lock:
            finished.append(i)
        return i

    assert runner.in_dependency_order(nbs, run, jobs=2) == ids and sorted(finished) == sorted(ids)
    assert max(running for _, running in started) == 1   # two at a time, never more
    assert runner.in_dependency_order(nbs[:3], run, jobs=1) == ids[:3]
    started.clear(), finished.clear()

    def fail_04(nb):
        if runner.notebook_id(nb) == "04":
            raise RuntimeError("04 failed")
        return run(nb)
    with pytest.raises(RuntimeError, match="04 failed"):
        runner.in_dependency_order(nbs, fail_04, jobs=2)
    assert not {"05", "05b", "05c", "07"} & {i for i, _ in started}   # nothing that needs 04 started


def test_publish_writes_the_report_and_leaves_the_readme_to_full_runs_at_the_repository_root(tmp_path, monkeypatch):
    import json
    from types import SimpleNamespace
    written = []
    monkeypatch.setattr(outputs, "update_generated", lambda section, text: written.append(section))
    here = SimpleNamespace(root=tmp_path, reports=tmp_path)
    outputs.publish(here, "metrics", {"smoke": False, "f1": 0.5}, {"results": "text"})   # a run elsewhere
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"smoke": False, "f1": 0.5} and written == []
    at_root = SimpleNamespace(root=outputs.REPO_ROOT, reports=tmp_path)
    outputs.publish(at_root, "metrics", {"smoke": True}, {"results": "text"})   # a smoke run at the root
    assert written == []
    outputs.publish(at_root, "yamnet_metrics", {"smoke": False}, {"yamnet": "a", "cry_audit": "b"})
    assert written == ["yamnet", "cry_audit"]


def test_machine_names_cores_cpu_and_commit():
    m = runner.machine()
    assert m["cores"] >= 1 and m["cpu"] and isinstance(m["load_1min"], float) and len(m["commit"]) >= 7


def test_run_times_table_gives_each_notebook_its_commit_and_load_and_sums_the_chain():
    on = {"cores": 2, "cpu": "AMD EPYC", "load_1min": 0.3, "commit": "abc1234"}
    records = [{"notebook": "01_data.ipynb", "seconds": 120.0, "machine": {**on, "load_1min_end": 1.9}},
               {"notebook": "02_yamnet.ipynb", "seconds": 1500.0, "machine": on},   # an old record: no end load
               {"notebook": "02b_pretraining.ipynb", "seconds": 60.0, "machine": {**on, "jobs": 2}}]
    text = runner.run_times_markdown(records)
    assert "| 01_data | 2.0 | abc1234 | 0.3 / 1.9 | 2 cores, AMD EPYC |" in text
    assert "| 02_yamnet | 25.0 | abc1234 | 0.3 / n/a |" in text
    assert "| 02b_pretraining | 1.0 | abc1234 | 0.3 / n/a | 2 cores, AMD EPYC, 2 notebooks at a time |" in text
    assert "Sum of the notebooks' last runs: 28 min (0.5 h)" in text


def test_results_text_names_the_chosen_ensemble_and_its_mcnemar_test():
    system = {"macro_f1": 0.9, "macro_f1_ci_low": 0.85, "macro_f1_ci_high": 0.95, "accuracy": 0.92,
              "recall_crying": 0.9, "recall_screaming": 0.8, "recall_normal": 0.95}
    metrics = {"systems": {"ensemble: weighted average": system, "member: yamnet": {**system, "macro_f1": 0.88},
                           "member: wav2vec2": {**system, "macro_f1": 0.7}},
               "chosen": "ensemble: weighted average", "choice_rule": "best validation macro-F1",
               "mcnemar_chosen_vs_member": {"yamnet": {"p-value": 0.0123, "only ensemble right": 9, "only member right": 2}},
               "n_clips": 100, "n_groups": 40, "bootstrap": {"n": 1000}}
    assert report_text.best_member(metrics)[0] == "yamnet"
    check_model_card({**metrics, "systems": {k: {**v, "ece": 0.05} for k, v in metrics["systems"].items()}})
    text = report_text.results_markdown(metrics, ["crying", "screaming", "normal"])
    assert "| ensemble: weighted average | 0.900 [0.850, 0.950] | 0.920 | 0.900 | 0.800 | 0.950 |  |" in text
    assert "*yamnet*, exact McNemar p = 0.0123 (9 clips only the ensemble got right, 2 only the member)" in text


def check_model_card(metrics):
    """The card waits for notebook 05's metrics, and each writer replaces it whole (05, 05b, 05c may each write it)."""
    import json
    import tempfile
    from types import SimpleNamespace
    df = pd.DataFrame({"label": ["crying", "normal", "screaming"] * 2, "split": ["train", "val", "test"] * 2,
                       "source": ["donateacry", "esc50_subset", "scream_rohanmathur17"] * 2})
    with tempfile.TemporaryDirectory() as tmp:
        paths = SimpleNamespace(reports=Path(tmp) / "reports", models=Path(tmp) / "models")
        paths.reports.mkdir()
        assert report_text.write_model_card(paths, df) is None and not paths.models.exists()   # before 05
        (paths.reports / "metrics.json").write_text(json.dumps(metrics))
        card = report_text.write_model_card(paths, df)
        first = card.read_text()
        assert first.startswith("# Model card") and "ensemble: weighted average" in first
        assert report_text.write_model_card(paths, df) == card and card.read_text() == first   # replaced, not appended


def test_the_readme_reads_in_five_minutes_and_its_links_resolve():
    import re
    readme = outputs.REPO_ROOT / "README.md"
    text = readme.read_text()
    assert len(text.splitlines()) <= 200
    links = [t for t in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text) if not t.startswith("http")]
    missing = [t for t in links if not (outputs.REPO_ROOT / t).exists()]
    assert links and not missing, missing


def test_committed_reports_name_no_absolute_path():
    """JSON reports and the run record carry paths relative to the repository (a reader elsewhere sees no machine)."""
    import re
    for f in sorted((outputs.REPO_ROOT / "reports").glob("*.json")):
        found = re.findall(r'"(/(?:home|root|work|tmp|Users)/[^"]*)"', f.read_text())
        assert not found, f"{f.name}: {found[:3]}"


def test_progress_bars_are_off_in_reports_and_on_elsewhere(monkeypatch, capsys):
    from crysense.config import progress_bar
    monkeypatch.delenv("CRYSENSE_PROGRESS", raising=False)
    assert not progress_bar(range(3), show=True).disable and progress_bar(range(3), show=False).disable
    monkeypatch.setenv("CRYSENSE_PROGRESS", "0")   # what the notebook runner gives every kernel
    assert progress_bar(range(3), show=True).disable
