"""Report generation: README sections replaced between their markers only, markdown tables that keep values and
types, the machine a time was measured on, and the results text built from a metrics report."""
from pathlib import Path

import pandas as pd
import pytest

from crysense import report_text, reporting


def test_update_readme_replaces_only_its_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- BEGIN generated:a -->\nold a\n<!-- END generated:a -->\nmiddle\n"
                      "<!-- BEGIN generated:b -->\nold b\n<!-- END generated:b -->\nend\n")
    assert reporting.update_readme("a", "new a\n", readme)
    assert readme.read_text() == ("intro\n<!-- BEGIN generated:a -->\nnew a\n<!-- END generated:a -->\nmiddle\n"
                                  "<!-- BEGIN generated:b -->\nold b\n<!-- END generated:b -->\nend\n")
    before = readme.read_text()
    assert not reporting.update_readme("missing", "x", readme) and readme.read_text() == before


def test_markdown_table_keeps_types_and_index():
    df = pd.DataFrame({"n": [3, 40], "f1": [0.12345, 1.0], "name": ["a", "b"]}, index=pd.Index(["x", "y"], name="row"))
    lines = reporting.markdown_table(df).split("\n")
    assert lines[0] == "| row | n | f1 | name |" and lines[1] == "|---|---|---|---|"
    assert lines[2] == "| x | 3 | 0.123 | a |" and lines[3] == "| y | 40 | 1.000 | b |"   # ints stay ints
    assert reporting.markdown_table(df, index=False).split("\n")[2] == "| 3 | 0.123 | a |"


def test_notebooks_are_chosen_by_exact_id_and_an_unknown_id_is_an_error():
    nbs = [Path(f"{n}.ipynb") for n in ("01_data", "02_yamnet", "02b_pretraining", "05_evaluation", "05b_generalization")]
    assert reporting.select_notebooks(nbs, None) == nbs
    assert [nb.stem for nb in reporting.select_notebooks(nbs, ["02"])] == ["02_yamnet"]   # not 02b as well
    assert [nb.stem for nb in reporting.select_notebooks(nbs, ["05b", "01"])] == ["01_data", "05b_generalization"]
    assert [nb.stem for nb in reporting.select_notebooks(nbs, ["02b_pretraining"])] == ["02b_pretraining"]
    with pytest.raises(ValueError, match="no notebook 2; the notebooks are 01, 02, 02b, 05, 05b"):
        reporting.select_notebooks(nbs, ["2"])
    names = {nb.stem.split("_")[0] for nb in reporting.study_notebooks()}   # every real id selects exactly its own
    assert all(len(reporting.select_notebooks(reporting.study_notebooks(), [i])) == 1 for i in names)


def test_notebooks_run_after_what_they_need_two_at_a_time_and_a_failure_stops_new_starts():
    import threading
    import time
    nbs = reporting.study_notebooks()
    ids = [reporting.notebook_id(nb) for nb in nbs]
    assert set(reporting.NEEDS) == set(ids) - {"01"}   # every notebook but the first says what it needs ...
    assert all(ids.index(n) < ids.index(i) for i, needs in reporting.NEEDS.items() for n in needs)   # ... from before it
    started, finished, lock = [], [], threading.Lock()

    def run(nb):
        i = reporting.notebook_id(nb)
        with lock:
            assert all(n in finished for n in reporting.NEEDS.get(i, ()))
            started.append((i, len(started) - len(finished)))   # how many others were running when it started
        time.sleep(0.05)
        with lock:
            finished.append(i)
        return i

    assert reporting.in_dependency_order(nbs, run, jobs=2) == ids and sorted(finished) == sorted(ids)
    assert max(running for _, running in started) == 1   # two at a time, never more
    assert reporting.in_dependency_order(nbs[:3], run, jobs=1) == ids[:3]
    started.clear(), finished.clear()

    def fail_04(nb):
        if reporting.notebook_id(nb) == "04":
            raise RuntimeError("04 failed")
        return run(nb)
    with pytest.raises(RuntimeError, match="04 failed"):
        reporting.in_dependency_order(nbs, fail_04, jobs=2)
    assert not {"05", "05b", "05c", "07"} & {i for i, _ in started}   # nothing that needs 04 started


def test_publish_writes_the_report_and_leaves_the_readme_to_full_runs_at_the_repository_root(tmp_path, monkeypatch):
    import json
    from types import SimpleNamespace
    written = []
    monkeypatch.setattr(reporting, "update_readme", lambda section, text: written.append(section))
    here = SimpleNamespace(root=tmp_path, reports=tmp_path)
    reporting.publish(here, "metrics", {"smoke": False, "f1": 0.5}, {"results": "text"})   # a run elsewhere
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"smoke": False, "f1": 0.5} and written == []
    at_root = SimpleNamespace(root=reporting.REPO_ROOT, reports=tmp_path)
    reporting.publish(at_root, "metrics", {"smoke": True}, {"results": "text"})   # a smoke run at the root
    assert written == []
    reporting.publish(at_root, "yamnet_metrics", {"smoke": False}, {"yamnet": "a", "cry_audit": "b"})
    assert written == ["yamnet", "cry_audit"]


def test_machine_names_cores_cpu_and_commit():
    m = reporting.machine()
    assert m["cores"] >= 1 and m["cpu"] and isinstance(m["load_1min"], float) and len(m["commit"]) >= 7


def test_run_times_table_gives_each_notebook_its_commit_and_load_and_sums_the_chain():
    on = {"cores": 2, "cpu": "AMD EPYC", "load_1min": 0.3, "commit": "abc1234"}
    records = [{"notebook": "01_data.ipynb", "seconds": 120.0, "machine": {**on, "load_1min_end": 1.9}},
               {"notebook": "02_yamnet.ipynb", "seconds": 1500.0, "machine": on},   # an old record: no end load
               {"notebook": "02b_pretraining.ipynb", "seconds": 60.0, "machine": {**on, "jobs": 2}}]
    text = reporting.run_times_markdown(records)
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
