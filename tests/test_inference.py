"""The Classifier people use, and the CLI: windows, overall label, bad files, exit codes."""
import json
import os

import numpy as np
import pytest

from conftest import noise, tone, write
from crysense.config import LABELS
from crysense.serving import cli
from crysense.serving.inference import Classifier, WindowParams


@pytest.fixture(scope="module")
def classifier(tiny_models):
    return Classifier.load(tiny_models)


def test_classify_array_of_any_length(classifier):
    for seconds, n_windows in [(2.0, 1), (10.0, 1), (23.0, 4)]:
        r = classifier.classify(noise(seconds, seed=int(seconds)))
        assert len(r["windows"]) == n_windows and r["label"] in LABELS
        assert abs(sum(r["probabilities"].values()) - 1) < 1e-4
        assert r["windows"][-1]["end_s"] == pytest.approx(seconds, abs=0.01)
        for w in r["windows"]:
            assert set(w["members"]) == {"yamnet", "wav2vec2", "yamnet_logreg", "audioset_logreg"}
    p = np.mean([[w["probabilities"][c] for c in LABELS] for w in r["windows"]], axis=0)
    assert np.allclose(p, [r["probabilities"][c] for c in LABELS], atol=1e-5)


def test_one_trunk_pass_serves_every_yamnet_member_with_unchanged_outputs(classifier, tiny_models):
    import joblib

    from crysense import yamnet
    from crysense.serving.inference import WindowInput
    x = noise(10.0, seed=7)
    inputs = classifier.prepare(x)
    assert isinstance(inputs, WindowInput) and inputs.samples is x   # the shared path was taken
    saved = yamnet.SavedYamnetClassifier(tiny_models / "yamnet_finetuned.h5")
    frozen = yamnet.Yamnet(top_blocks=saved.top_blocks)
    logreg, evidence = (joblib.load(tiny_models / f"{m}.joblib") for m in ("yamnet_logreg", "audioset_logreg"))
    np.testing.assert_allclose(classifier.members["yamnet"](inputs), saved.predict_proba(x), atol=1e-5)
    emb, scores = frozen.frames(x)
    np.testing.assert_allclose(classifier.members["yamnet_logreg"](inputs),
                               logreg.predict_proba(emb.mean(0, keepdims=True))[0], atol=1e-5)
    # the AudioSet member reads the clip's mean and loudest patch of the cry and scream classes, as in training
    trained_on = yamnet.clip_evidence(frozen, {"orig": {"clip": frozen.trunk_activations(x)}})["orig"]["clip"]
    np.testing.assert_allclose(yamnet.patch_evidence(scores, frozen.class_names), trained_on, atol=1e-4)
    np.testing.assert_allclose(classifier.members["audioset_logreg"](inputs),
                               evidence.predict_proba(trained_on[None])[0], atol=1e-4)
    # another trunk (other weights, or another split) is never shared
    assert saved.shares_trunk_with(frozen) and not saved.shares_trunk_with(yamnet.Yamnet(top_blocks=saved.top_blocks + 1))
    frozen.trunk.set_weights([w + 1e-3 for w in frozen.trunk.get_weights()])
    assert not saved.shares_trunk_with(frozen)


def test_window_and_combiner_choices(tiny_models):
    clf = Classifier.load(tiny_models, window=WindowParams(5, 5), combiner="majority vote")
    assert len(clf.classify(noise(15.0))["windows"]) == 3
    with pytest.raises(ValueError, match="unknown combiner"):
        Classifier.load(tiny_models, combiner="nope")


def test_cli_classifies_good_files_and_reports_bad_ones(classifier, tmp_path, capsys):
    good = write(tmp_path / "good.wav", tone(400, 6.0))
    stereo = write(tmp_path / "stereo.flac", np.stack([noise(3.0, 44100), noise(3.0, 44100, seed=2)], 1), 44100)
    silent = write(tmp_path / "silent.wav", np.zeros(48_000, np.float32))
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio")
    args = cli._args(["classify", "--json", str(good), str(junk), str(stereo), str(silent)])
    assert cli.classify(args, classifier) == 1
    out = json.loads(capsys.readouterr().out)
    assert [("error" in r) for r in out] == [False, True, False, True]
    assert "near-silent" in out[3]["error"] and out[0]["label"] in LABELS
    args = cli._args(["classify", str(good)])
    assert cli.classify(args, classifier) == 0
    assert "good.wav" in capsys.readouterr().out


def test_cli_stream_from_raw_pcm(classifier, capsys):
    import io
    pcm = (tone(300, 12.0) * 32767).astype("<i2").tobytes()
    args = cli._args(["stream", "--json", "--window", "5", "--hop", "5"])
    assert cli.stream(args, classifier, io.BytesIO(pcm)) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    windows = [x for x in lines if "start_s" in x]
    assert [x["start_s"] for x in windows] == [0.0, 5.0, 10.0]
    # the alert events are the shared rule's on these windows (threshold 0: every window counts)
    args = cli._args(["stream", "--json", "--window", "5", "--hop", "5", "--threshold", "0", "--alert-n", "2",
                      "--alert-m", "3"])
    assert cli.stream(args, classifier, io.BytesIO(pcm)) == 0
    events = [x for x in map(json.loads, capsys.readouterr().out.splitlines()) if "event" in x]
    assert [(e["event"], e["time_s"]) for e in events] == [("alert on", 5.0), ("alert off", 12.0)]


def test_cli_stream_applies_the_file_checks_to_its_windows(classifier, capsys):
    import io
    silence = np.zeros(10 * 16_000, np.int16).tobytes()
    random_bytes = np.random.default_rng(0).integers(0, 256, 10 * 32_000, dtype=np.uint8).tobytes()
    tone_pcm = (tone(300, 10.0) * 32767).astype("<i2").tobytes()
    args = cli._args(["stream", "--json", "--window", "5", "--hop", "5", "--threshold", "0", "--alert-n", "1",
                      "--alert-m", "1"])
    assert cli.stream(args, classifier, io.BytesIO(silence + random_bytes + tone_pcm)) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    windows = [x for x in lines if "start_s" in x]
    assert ["near-silent" in w.get("error", "") for w in windows] == [True, True, False, False, False, False]
    assert ["not audio" in w.get("error", "") for w in windows] == [False, False, True, True, False, False]
    assert all("label" in w for w in windows[4:])
    # a bad window never counts: the alert (1 of 1, threshold 0) comes with the first real audio, at 20 s
    assert [(x["event"], x["time_s"]) for x in lines if "event" in x] == [("alert on", 20.0), ("alert off", 30.0)]
    # a file piped instead of its PCM is refused with a hint, and the table has a header
    wav = b"RIFF" + bytes(40) + tone_pcm
    assert cli.stream(cli._args(["stream"]), classifier, io.BytesIO(wav)) == 1
    assert "is a WAV file, not raw" in capsys.readouterr().err
    assert cli.stream(cli._args(["stream", "--window", "5", "--hop", "5"]), classifier, io.BytesIO(tone_pcm)) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[:2] == ["window", "label"]


def test_kernel_threads_are_limited_before_the_models_run_and_a_late_call_says_so():
    import subprocess
    import sys
    code = """
import warnings
import torch
from crysense.serving.inference import limit_kernel_threads
from crysense.yamnet.tf_runtime import tf
import numpy as np
from threadpoolctl import threadpool_info
np.ones((64, 64)) @ np.ones((64, 64))   # the BLAS pool is loaded
assert limit_kernel_threads(1)
assert (torch.get_num_threads(), tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads()) == (1, 1, 1)
assert threadpool_info() and all(pool["num_threads"] == 1 for pool in threadpool_info())   # BLAS / OpenMP too
tf.reduce_sum(tf.ones(3)).numpy()   # TensorFlow has run: its pools are fixed now
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert not limit_kernel_threads(2)
assert torch.get_num_threads() == 2 and "already run" in str(caught[0].message)
print("ok")
"""
    # the pools at their defaults, not the test command's one thread each
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS") and not k.startswith("TF_NUM_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_missing_models_are_one_line_and_exit_2_not_a_traceback(tmp_path):
    """A fresh clone before ./run_all.sh: the CLI and the worker name what is missing, in one line."""
    import subprocess
    import sys
    clip = write(tmp_path / "clip.wav", tone(seconds=6.0))
    empty = tmp_path / "no-models"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "crysense", "classify", str(clip), "--models", str(empty)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "trained models missing" in lines[0] and "ensemble.joblib" in lines[0]
    worker = subprocess.run([sys.executable, "-m", "temporal_workflow.worker", "--models", str(empty)],
                            capture_output=True, text=True, timeout=300)
    assert worker.returncode == 1 and "Traceback" not in worker.stderr and "trained models missing" in worker.stderr
