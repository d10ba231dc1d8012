"""Every numbered notebook runs end to end in smoke mode (papermill), and leaves its report and figures."""
import json

import pandas as pd

from crysense.reporting import run_notebooks, study_notebooks


def test_notebook_chain_runs_in_smoke_mode(tmp_path):
    out = tmp_path / "study"
    times = run_notebooks(smoke=True, out_root=out, jobs=2)   # as run_all.sh --smoke: two at a time where NEEDS allows
    names = [nb.name for nb in study_notebooks()]
    assert [t["notebook"] for t in times] == names and names[0] == "01_data.ipynb"
    for nb in study_notebooks():
        html = out / "reports" / f"{nb.stem}.html"
        assert html.stat().st_size > 10_000
        executed = json.loads((out / "reports" / "executed" / nb.name).read_text())
        errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors
    for fig in ("data_class_counts", "data_durations", "data_example_spectrograms", "data_bandwidth_by_source",
                "data_learning_curve", "data_augmented_views", "generalization_loso_recall",
                "monitor_false_alerts_vs_recall", "realtime_temporal_web_ui", "data_cry_audibility"):
        assert (out / "plots" / f"{fig}.pdf").stat().st_size > 1000
    assert (out / "data_manifest.csv").exists() and (out / "data_quarantine.csv").exists()
    # leave-one-source-out: every source held out, for every system and recipe the notebook planned
    report = json.loads((out / "reports" / "generalization.json").read_text())
    recalls = pd.DataFrame(report["recalls"])
    held = recalls[recalls["held_out"] != "grouped test split"]
    assert set(held["held_out"]) == set(report["sources"]) and len(report["sources"]) >= 6
    for system, recipes in report["plan"].items():
        assert set(held.loc[held["system"] == system, "recipe"]) == set(recipes)
    # the label audit: every crying source's share of audible cries (02), held-out crying recall split by it (05b)
    audit = pd.DataFrame(json.loads((out / "reports" / "yamnet_metrics.json").read_text())["cry_audit"])
    assert set(audit.loc[audit["label"] == "crying", "source"]) >= {"donateacry", "giulbia_baby_cry"}
    by_audibility = pd.DataFrame(report["crying_recall_by_audibility"])
    assert "donateacry" in set(by_audibility["held_out"])
    # pretraining: each family's installed backbone is the run the probe chose, every run defined by its steps
    pre = json.loads((out / "reports" / "pretraining.json").read_text())
    for family in ("wav2vec2", "hubert"):
        run = (out / "models" / "pretrained" / family / "chosen_run.txt").read_text().strip()
        assert run == pre["chosen"][family]["run"]
    assert all(s["steps"] == pre["config"]["steps"] for s in pre["pretraining"].values())
    # the ensemble reported is the one notebook 04 chose on validation, tested against the best member
    from crysense.ensemble import Ensemble
    metrics = json.loads((out / "reports" / "metrics.json").read_text())
    assert metrics["chosen"] == f"ensemble: {Ensemble.load(out / 'models' / 'ensemble.joblib').chosen}"
    assert metrics["best_member"] in metrics["mcnemar_chosen_vs_member"]
    w2v = json.loads((out / "reports" / "wav2vec2_metrics.json").read_text())
    # the other initialisations: random, plain SSL and the best teacher-guided run, each unless it is the chosen one
    from crysense.config import get_paths
    from crysense.speech.backbones import ablation_runs
    others = ablation_runs("wav2vec2", get_paths(out))
    assert set(w2v["ablation_backbones"]) == {"random init", *others}
    assert ("plain SSL" in others) == (pre["chosen"]["wav2vec2"]["objective"] != "ssl")
    assert set(others.values()) <= {r["run"] for r in pre["probe"] if r["family"] == "wav2vec2"}
    card = (out / "models" / "MODEL_CARD.md").read_text()
    assert "Recordings from elsewhere" in card and "false alerts per hour" in card
    # the streaming evaluation ships an operating point, and the service reads it
    from crysense.serving.alerts import shipped_rule
    point = json.loads((out / "models" / "operating_point.json").read_text())
    assert shipped_rule(out / "models").threshold == point["threshold"] and set(point["test"]) >= {"episode_recall"}
    # cry reasons: every setting scored, every model permutation-tested, the leaky protocols beside the grouped one
    reasons = json.loads((out / "reports" / "cry_reasons_metrics.json").read_text())
    assert set(reasons["settings"]) == {"reasons", "curated", "hungry"}
    for name, setting in reasons["settings"].items():   # the fine-tuned HuBERTs are permuted on the 7 reasons only
        models = {r["model"] for r in setting["table"]}
        fine_tuned = {m for m in models if m.startswith("HuBERT") and "frozen" not in m}
        assert set(setting["permutation"]) == (models if name == "reasons" else models - fine_tuned)
        assert all(0 < p["p_balanced_accuracy"] <= 1 for p in setting["permutation"].values())
    assert all("roc_auc" in r for r in reasons["settings"]["hungry"]["table"])
    assert {r["protocol"] for r in reasons["leaky"]} == {"grouped by baby (the study)", "random clip split",
                                                         "augmented, then random split"}
    assert (out / "plots" / "cry_reasons_permutation_null.pdf").stat().st_size > 1000
