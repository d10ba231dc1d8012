"""The label audit: a cry heard in any patch counts (the max over patches, not the mean), shares and recalls are
counted per source and split by audibility, and the README text carries the figures."""
import numpy as np
import pandas as pd
import pytest

from conftest import noise, tone
from crysense import yamnet
from crysense.config import CRY_AUDIT_THRESHOLDS
from crysense.evaluation import labelaudit
from crysense.reporting import text as report_text

needs_weights = pytest.mark.skipif(not (yamnet.LOCAL_WEIGHTS_DIR / "yamnet.h5").exists(),
                                   reason="YAMNet weights not found (../shared/weights/yamnet)")
NAMES = ["Speech", "Baby cry, infant cry", "Crying, sobbing", "Whimper", "Screaming", "Music"]


class FakeYamnet:
    """Per-patch AudioSet scores given directly as a clip's 'activations'."""
    class_names = NAMES

    def clip_max_scores(self, acts_list):
        return np.stack([np.max(a, axis=0) for a in acts_list])


def rows_and_scores():
    # one patch of a 10-patch clip holds a cry: heard, although its mean cry score is only 0.08
    short_cry = np.zeros((10, 6))
    short_cry[3, 2] = 0.8
    clips = {"a": short_cry, "b": np.full((4, 6), 0.05), "c": np.eye(6)[[0, 5]] * 0.9, "d": np.eye(6)[[3]] * 0.35}
    rows = pd.DataFrame({"sha256": list(clips), "source": ["app", "app", "talk", "app"],
                         "label": ["crying", "crying", "normal", "crying"]})
    return rows, labelaudit.cry_scores(FakeYamnet(), clips, rows)


def test_cry_score_is_the_highest_cry_class_in_any_patch():
    rows, s = rows_and_scores()
    assert s.to_dict() == pytest.approx({"a": 0.8, "b": 0.05, "c": 0.0, "d": 0.35})


def test_audibility_shares_per_source_and_threshold():
    rows, s = rows_and_scores()
    t = labelaudit.audibility_table(rows, {"all": s}, thresholds=(0.1, 0.5))
    assert t.loc[("app", "crying"), "clips"] == 3
    assert t.loc[("app", "crying"), "audible cry ≥ 0.1 (all)"] == pytest.approx(2 / 3)
    assert t.loc[("app", "crying"), "audible cry ≥ 0.5 (all)"] == pytest.approx(1 / 3)
    assert t.loc[("talk", "normal"), "audible cry ≥ 0.1 (all)"] == 0
    # a version scored on some rows only (e.g. band-limited held-out clips) is counted on those rows
    part = labelaudit.audibility_table(rows, {"some": s[["a", "b"]]}, thresholds=(0.1,))
    assert part.loc[("app", "crying"), "audible cry ≥ 0.1 (some)"] == pytest.approx(0.5)


def test_recall_split_by_audibility():
    rows, s = rows_and_scores()
    pred = pd.DataFrame({"sha256": ["a", "b", "d", "c"], "label": ["crying", "crying", "crying", "normal"],
                         "pred": ["crying", "normal", "normal", "normal"], "system": "m", "recipe": "r", "held_out": "app"})
    t = labelaudit.recall_by_audibility(pred, s, threshold=0.1).loc[("m", "r", "app")]
    assert t["recall (audible cry)"] == pytest.approx(0.5) and t["clips (audible cry)"] == 2   # a right, d wrong
    assert t["recall (no audible cry)"] == 0 and t["clips (no audible cry)"] == 1              # b wrong
    tables = (pd.DataFrame({"clips": [3]}, index=pd.MultiIndex.from_tuples([("app", "crying")], names=["source", "label"])),
              pd.DataFrame({"system": ["m"], "recipe": ["r"], "min LOSO recall crying": [0.5]}).set_index(["system", "recipe"]))
    text = report_text.generalization_markdown(*tables, ["app", "talk"], 60.0,
                                               labelaudit.recall_by_audibility(pred, s, threshold=0.1))
    assert "| m | app | 0.50 | 2 | 0.00 | 1 |" in text
    assert "(1 min of leave-one-source-out training on 2 CPU cores)" in text and "read back" not in text
    assert "; 4 folds trained by an earlier, cut-off run" in report_text.generalization_markdown(*tables, ["app"], 60.0,
                                                                                               resumed=4)


def test_audit_text_and_figure():
    rows, s = rows_and_scores()
    table = labelaudit.audibility_table(rows, {"all clips": s})
    text = report_text.cry_audit_markdown(table, labelaudit.audibility_table(rows, {"as recorded": s}, (0.1,)), 0.1)
    assert "| app | crying | 3 | 0.67 |" in text and "notebooks/02_yamnet.ipynb" in text
    fig = labelaudit.plot_cry_scores(rows, s)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 1 + len(CRY_AUDIT_THRESHOLDS)


@needs_weights
def test_real_yamnet_max_scores_bound_the_mean_and_hear_no_cry_in_a_tone():
    base = yamnet.Yamnet(top_blocks=1)
    acts = [base.trunk_activations(x) for x in (tone(seconds=3.0), noise(5.0))]
    top = base.clip_max_scores(acts)
    _, mean = base.clip_outputs(acts)
    assert top.shape == mean.shape == (2, 521) and np.all(top >= mean - 1e-6)
    rows = pd.DataFrame({"sha256": ["tone", "noise"], "source": "x", "label": "normal"})
    assert (labelaudit.cry_scores(base, dict(zip(rows["sha256"], acts)), rows) < CRY_AUDIT_THRESHOLDS[0]).all()


def test_curation_table_scores_kept_clips_and_each_kind_left_out():
    from crysense.data.donateacry import exclusion
    rows, s = rows_and_scores()
    recordings = {"app/heard.3gp": np.eye(6)[[1]] * 0.9, "app/silent.3gp": np.zeros((3, 6)), "app/tagged.3gp": np.zeros((2, 6))}

    class Loader:
        def recording(self, file_path):
            return recordings[file_path]

    class Base(FakeYamnet):
        def trunk_activations(self, x):   # the fake's 'activations' are the per-patch scores themselves
            return x

    curated = frozenset()
    quarantine = pd.DataFrame({"file_path": [*recordings, "app/too_quiet.3gp", "talk/x.wav"],
                               "source": ["app", "app", "app", "app", "talk"],
                               "reason": [exclusion("h", "hu", curated), exclusion("s", "hu", curated),
                                          exclusion("t", "dk", curated), "near-silent (-60 dBFS < -50 dBFS)",
                                          exclusion("x", "hu", curated)]})
    t = labelaudit.curation_table(Base(), s, rows, quarantine, Loader(), source="app", thresholds=(0.1,), progress=False)
    assert t.loc["kept (curated)", "recordings"] == 3 and t.loc["kept (curated)", "audible cry ≥ 0.1"] == pytest.approx(2 / 3)
    by_listening = t.loc["left out: removed there as a non-cry by listening"]
    assert by_listening["recordings"] == 2 and by_listening["audible cry ≥ 0.1"] == pytest.approx(0.5)
    unheard = t.loc["left out: tag 'dk' removed there unheard (no listener checked a cry)"]
    assert unheard["recordings"] == 1 and unheard["audible cry ≥ 0.1"] == 0
    assert len(t) == 3   # the near-silent file and the other source's row are not curation kinds of this source
    audit = labelaudit.audibility_table(rows, {"all clips": s}, (0.1,))
    assert "| kept (curated) | 3 | 0.67 |" in report_text.cry_audit_markdown(audit, audit, 0.1, curation=t)
