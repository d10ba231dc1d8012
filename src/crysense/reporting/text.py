"""The generated text of the study: README sections and the model card, each from a notebook's measured report."""
from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pandas as pd

from ..data.sources import SOURCES
from ..evaluation.loso_tables import TARGETS
from ..reasons.settings import SETTINGS
from .outputs import markdown_table


def wav2vec2_member(summary: dict | None, short: bool = False) -> str:
    """What the shipped Wav2Vec2 member is, from notebook 03's report: a linear probe on the frozen backbone when
    LP-FT kept the probe (epoch 0), else its fine-tuned top layers and head. ``short``: a table row's words."""
    head = (summary or {}).get("head") or {}
    layers = (summary or {}).get("config", {}).get("top_layers")
    if head.get("init") == "probe" and head.get("best_epoch") == 0:
        return "linear probe on the frozen backbone" if short else (
            "a linear probe on a frozen Wav2Vec2 backbone (LP-FT kept the probe: fine-tuning never lowered its "
            "validation loss)")
    if head.get("best_epoch"):
        what = f"top {layers} layer(s) and head fine-tuned, {head['best_epoch']} epochs kept"
        return what if short else f"a Wav2Vec2 with its {what}"
    return "fine-tuned" if short else "a fine-tuned Wav2Vec2"


def wav2vec2_markdown(summary: dict, labels) -> str:
    """The Wav2Vec2 section (notebook 03) from its report (``reports/wav2vec2_metrics.json``): the shipped member named
    as what it is (probe or fine-tuned), the band-limited test, the same training from the other initialisations, and
    how long it took."""
    import pandas as pd
    results = pd.DataFrame(summary["metrics"]).T
    backbone, cfg, head = summary["backbone"], summary["config"], summary.get("head") or {}
    rows = {"fine-tuned test orig": f"Wav2Vec2 member: {wav2vec2_member(summary, short=True)} ({backbone})",
            "fine-tuned test bl4k": "the same, test clips band-limited to 4 kHz"}
    start = {"plain SSL": "plain self-supervision", "teacher-guided": "teacher-guided pretraining",
             "random init": "random initialisation"}
    rows.update({f"{k} test orig": f"the same training from {start.get(k, k)} ({b})"
                 for k, b in summary.get("ablation_backbones", {}).items()})
    # with LP-FT the history's first row is the probe (epoch 0), not a trained epoch
    trained = summary["epochs"] - (1 if head.get("init") == "probe" else 0)
    note = (f"Test split. Chosen backbone: `{backbone}` ({summary['parameters'] / 1e6:.1f} M parameters); top "
            f"{cfg['top_layers']} layers + head trained {summary['train_seconds']:.0f} s ({trained} epochs) on cached "
            f"frozen states (computed in {summary['state_seconds']:.0f} s); {describe_head(head)}; inference real-time "
            f"factor {summary['real_time_factor']['real_time_factor']:.4f}. Every row trains the same way on the same "
            "recipe; only the backbone's initialisation differs. Written by `notebooks/03_wav2vec2.ipynb`.")
    return model_results_markdown(results, rows, labels, note)


def describe_head(head: dict) -> str:
    """One sentence on how a Wav2Vec2 / HuBERT head started and which epoch was kept."""
    if head.get("init") != "probe":
        return "head randomly initialised"
    kept = head.get("best_epoch")
    tail = "" if kept is None else (
        "; fine-tuning never lowered the validation loss below the probe's, so the probe (epoch 0) was kept" if kept == 0
        else f"; best validation loss after {kept} epochs of fine-tuning")
    return f"head started as the probe (LP-FT; C = {head['probe_c']:g}, chosen on validation){tail}"


def model_results_markdown(results, rows: dict[str, str], labels, note: str) -> str:
    """README table of one model notebook: macro-F1 and per-class recall of the named ``results`` rows."""
    table = results.loc[list(rows), ["n", "macro_f1"] + [f"recall_{c}" for c in labels]].astype({"n": int})
    table.index = list(rows.values())
    return markdown_table(table) + "\n\n" + note


def seed_spread_sentence(spread, what: str) -> str:
    """One sentence from `yamnet.seed_spread`: mean ± standard deviation and range of each macro-F1 over the seeds."""
    parts = [f"{col} {v.mean():.3f} ± {v.std(ddof=1):.3f} (range {v.min():.3f}-{v.max():.3f})"
             for col, v in spread.filter(like="macro-F1").items()]
    return (f"{what} with seeds {', '.join(map(str, spread.index))} (same data, recipe and epochs): "
            + "; ".join(parts) + ".")


def results_markdown(metrics: dict, labels) -> str:
    """The README's results table from ``reports/metrics.json``: every system on the test split."""
    rows = []
    for name, m in metrics["systems"].items():
        bl = m.get("macro_f1_band_limited_4khz")
        rows.append(f"| {name} | {m['macro_f1']:.3f} [{m['macro_f1_ci_low']:.3f}, {m['macro_f1_ci_high']:.3f}] | "
                    f"{m['accuracy']:.3f} | " + " | ".join(f"{m[f'recall_{c}']:.3f}" for c in labels) +
                    f" | {'' if bl is None or bl != bl else f'{bl:.3f}'} |")
    head = ("| system | macro-F1 [95 % CI] | accuracy | " + " | ".join(f"recall {c}" for c in labels) +
            " | macro-F1, test band-limited to 4 kHz |\n|---|---|---|" + "---|" * len(labels) + "---|")
    choice = (f"Chosen ensemble: *{metrics['chosen']}*, picked on validation before this test ({metrics['choice_rule']})"
              if "choice_rule" in metrics else f"Chosen ensemble (fixed in advance): *{metrics['chosen']}*")
    best = metrics.get("best_member") or best_member(metrics)[0]
    mc = metrics.get("mcnemar_chosen_vs_member", {}).get(best)
    vs = (f"; against the best single member on test, *{best}*, exact McNemar p = {mc['p-value']:.3g} "
          f"({int(mc['only ensemble right'])} clips only the ensemble got right, {int(mc['only member right'])} only the "
          f"member)" if mc else f"; best single member: *{best}*")
    return (head + "\n" + "\n".join(rows) +
            f"\n\nTest split: {metrics['n_clips']} clips from {metrics['n_groups']} groups (babies, recordings, speakers, "
            f"source files) never used for training or validation. CI: cluster bootstrap over groups "
            f"({metrics['bootstrap']['n']} resamples). {choice}{vs}. The seed's average of YAMNet and Wav2Vec2 stays in the "
            f"table. Written from `reports/metrics.json` by `notebooks/05_evaluation.ipynb`.")


def best_member(metrics: dict) -> tuple[str, dict]:
    """The ensemble member with the highest test macro-F1, for an honest comparison with the chosen combiner."""
    members = {k: v for k, v in metrics["systems"].items() if k.startswith("member: ")}
    name = max(members, key=lambda k: members[k]["macro_f1"])
    return name.removeprefix("member: "), members[name]


def write_model_card(paths, df) -> Path | None:
    """``models/MODEL_CARD.md`` from the latest ``reports/metrics.json`` (notebook 05) and, when present,
    ``reports/generalization.json`` (05b), ``reports/monitor.json`` (05c) and ``reports/wav2vec2_metrics.json`` (03).
    Before 05 has run there is nothing to write (None): 05 writes the card when it does."""
    def report(name):
        f = paths.reports / f"{name}.json"
        return json.loads(f.read_text()) if f.exists() else None

    if not (paths.reports / "metrics.json").exists():
        return None
    out = paths.models / "MODEL_CARD.md"
    # 05, 05b and 05c may run at once (``reporting.NEEDS``): each wrote its report before taking the lock, so
    # whichever takes it last reads all three
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as card:
        fcntl.flock(card, fcntl.LOCK_EX)
        text = model_card(report("metrics"), df, report("generalization"), report("monitor"), report("wav2vec2_metrics"))
        card.truncate(0)
        card.write(text)
    return out


def generalization_markdown(table, ladder, sources, seconds: float, by_audibility=None, misses=None,
                            resumed: int = 0) -> str:
    """The README's leave-one-source-out section: held-out recall before -> after, the ablation ladder, and (if
    given) held-out crying recall split by the label audit (`labelaudit.recall_by_audibility`) and the kinds of sound
    the chosen ensemble misses (`loso_tables.misses_by_kind`). ``seconds``: training time summed over the folds;
    ``resumed``: how many of them an earlier, cut-off run of the same code and settings trained (`loso.FoldStore`)."""
    audit = ""
    if by_audibility is not None and len(by_audibility):
        a = by_audibility.reset_index().drop(columns="recipe")
        recall = lambda v: "" if v != v else f"{v:.2f}"
        a = a.assign(**{c: a[c].map(recall if c.startswith("recall") else lambda v: f"{int(v)}")
                        for c in a.columns if c.startswith(("recall", "clips"))})
        audit = ("\n\nHeld-out crying recall on the clips in which the frozen AudioSet YAMNet hears a cry and on those in "
                 "which it hears none (the label audit of notebook 02):\n\n" + markdown_table(a, index=False))
    if misses is not None:
        m = misses.assign(recall=misses["recall"].map(lambda v: f"{v:.2f}"))
        goals = ", ".join(f"{label} {goal:.2f}" for label, goal in TARGETS.items())
        audit += (f"\n\nWhere the chosen ensemble's held-out recall falls short of its goal ({goals}), by kind of sound, "
                  "with the groups (recordings, speakers, babies) the clips come from:\n\n"
                  + (markdown_table(m, index=False) if len(m) else "nowhere: every kind meets its goal."))
    lad = ladder.reset_index()
    lad = lad.assign(**{c: lad[c].map(lambda v: "" if v != v else f"{v:.3f}") for c in lad.columns[2:]})
    return (markdown_table(table.reset_index().rename(columns={"source": "held-out source"}), index=False) +
            "\n\nRecall on every clip of a source the models never trained on (train/val of the other "
            f"{len(sources) - 1} sources; the held-out source's groups and the augmented views that mixed in its audio "
            "left out too). *before*: the six original sources, 8 kHz round trip only (how the study trained before); "
            "*after*: the study's recipe. Last column: the same source and label in the grouped test split.\n\n"
            "The ablation, one change at a time (lowest held-out recall over the sources holding each label; "
            "macro-F1 on the grouped test split):\n\n" + markdown_table(lad, index=False) + audit +
            f"\n\nWritten by `notebooks/05b_generalization.ipynb` ({seconds / 60:.0f} min of leave-one-source-out "
            "training on 2 CPU cores" + (f"; {resumed} folds trained by an earlier, cut-off run of the same code and "
                                         "settings, read back" if resumed else "") + ").")


def cry_audit_markdown(table, bandwidth, threshold: float, curation=None) -> str:
    """The README's label audit (notebook 02): per source and label, the share of clips in which the frozen AudioSet
    YAMNet hears a cry, the same on held-out clips as recorded and band-limited to 4 kHz, and (if given,
    `labelaudit.curation_table`) Donate-a-Cry's uploads kept and left out by upstream's curation."""
    fmt = lambda t: t.assign(**{c: t[c].map(lambda v: f"{v:.2f}") for c in t.columns if c not in ("clips", "recordings")})
    curated = "" if curation is None else (
        "\n\nDonate-a-Cry uploads kept and left out by upstream's curation (`crysense.data.donateacry`: its curators "
        "listened to the uploads of five reasons and removed the non-cries, and removed three reasons by tag, unheard); "
        "the study labels only the kept ones crying:\n\n" + markdown_table(fmt(curation).reset_index(), index=False))
    return (markdown_table(fmt(table).reset_index(), index=False) +
            "\n\nShare of each source's clips in which the frozen AudioSet YAMNet (trained on none of our sources) "
            "scores a cry class (*Baby cry, infant cry*, *Crying, sobbing*, *Whimper*) at or above the threshold in at "
            "least one 0.96 s patch. Validation and test clips as recorded and band-limited to 4 kHz (does the phone "
            "band hide cries from it?):\n\n" + markdown_table(fmt(bandwidth).reset_index(), index=False) + curated +
            f"\n\nA diagnostic, not ground truth (`crysense.evaluation.labelaudit`; the share in `normal` sources is how often "
            f"it hears a cry where none was labelled). Notebook 05b splits held-out crying recall by it (threshold "
            f"{threshold:g}). Written by `notebooks/02_yamnet.ipynb`.")


def monitor_markdown(report: dict, chosen_system: str) -> str:
    """The README's monitor section: every system at its validation-chosen operating point, measured on test streams."""
    import pandas as pd
    test = pd.DataFrame(report["test_at_point"]).set_index("system")
    default = pd.DataFrame(report["default_rule_test"]).T
    table = pd.DataFrame({
        "operating point (p ≥ t, n of m)": [f"t={r.threshold:.2f}, {int(r.n)} of {int(r.m)}" for r in test.itertuples()],
        "false alerts / h": test["false_alerts_per_hour"].map(lambda v: f"{v:.2f}"),
        "episodes caught": [f"{r.episode_recall:.2f} ({int(round(r.episode_recall * r.episodes))}/{int(r.episodes)})"
                            for r in test.itertuples()],
        "latency median / p95 (s)": [f"{r.latency_median_s:.0f} / {r.latency_p95_s:.0f}" for r in test.itertuples()],
        "before: false alerts / h, caught (p ≥ 0.5, 2 of 3)": [
            f"{default.loc[s, 'false_alerts_per_hour']:.2f}, {default.loc[s, 'episode_recall']:.2f}" for s in test.index]},
        index=test.index)
    point = report["operating_point"]
    val_hours = sum(s["hours"] for s in report["streams"]["val"] if not s["episodes"])
    test_hours = sum(s["hours"] for s in report["streams"]["test"] if not s["episodes"])
    episodes = sum(s["episodes"] for s in report["streams"]["test"])
    return (markdown_table(table) +
            f"\n\nTest streams: {test_hours:.2f} h of normal audio ({report['spec']['orders']} seeded orders of every "
            f"test `normal` clip) and {episodes} inserted cry episodes (≥ {report['spec']['episode_min_s']:g} s of one "
            f"test baby's crying). Each operating point was chosen on validation streams ({val_hours:.2f} h of normal "
            f"audio) for ≤ {point['target_false_alerts_per_hour']:g} false alert per hour, the most episodes caught, then "
            f"the lowest latency. **Shipped** (`models/operating_point.json`, the default of `crysense stream` and the "
            f"Temporal client): *{chosen_system}*; {_point_sentence(point)} Written by `notebooks/05c_monitor.ipynb`.")


def _point_sentence(p: dict) -> str:
    """The shipped operating point and what it measured on test streams, in one sentence."""
    t = p["test"]
    return (f"alert when p(crying) ≥ {p['threshold']:.2f} in {p['n']} of the last {p['m']} windows (10 s every 5 s), "
            f"clear when none reach it (validation target ≤ {p['target_false_alerts_per_hour']:g} false alert per hour: "
            f"{'met' if p['meets_target_on_validation'] else 'not met'}); on test streams ({t['normal_hours']:.2f} h of "
            f"normal audio, {int(t['episodes'])} cry episodes) {t['false_alerts_per_hour']:.2f} false alerts per hour, "
            f"{t['episode_recall']:.2f} of the episodes caught, median latency {t['latency_median_s']:.0f} s (p95 "
            f"{t['latency_p95_s']:.0f} s) from the episode's onset.")


def _monitor_card(mon: dict | None) -> str:
    if not mon:
        return "Not measured yet: run `notebooks/05c_monitor.ipynb` (streaming evaluation)."
    return "The service (chosen ensemble) and its operating point, chosen on validation streams: " + \
        _point_sentence(mon["operating_point"])


def _generalization_card(gen: dict | None) -> str:
    """The model card's paragraph on recordings from elsewhere, from notebook 05b's report."""
    if not gen:
        return "- Not measured yet: run `notebooks/05b_generalization.ipynb` (leave one source out)."
    final = gen["recipes"][-1]["name"]
    rec = [r for r in gen["recalls"] if r["system"].startswith("ensemble") and r["recipe"] == final
           and r["held_out"] != "grouped test split"]
    if not rec:
        return "- The chosen ensemble was not measured on held-out sources in the last run."
    lines = []
    for label in ("crying", "screaming", "normal"):
        rs = sorted((r for r in rec if r["label"] == label), key=lambda r: r["recall"])
        if rs:
            lines.append(f"  - {label}: recall {rs[0]['recall']:.2f} on {rs[0]['source']} (lowest) to "
                         f"{rs[-1]['recall']:.2f} on {rs[-1]['source']}, over {len(rs)} held-out sources")
    return ("- **Recordings from elsewhere** (leave one source out, `notebooks/05b_generalization.ipynb`): trained "
            "without a source, the chosen ensemble recognised its clips as follows:\n" + "\n".join(lines) +
            "\n  A corpus stands for a microphone, a room and a codec the models never heard: expect figures like "
            "these, not the grouped-test ones, on a new monitor; the lowest values say which sounds to test first.")


def model_card(metrics: dict, df, generalization: dict | None = None, monitor: dict | None = None,
               wav2vec2: dict | None = None) -> str:
    """``models/MODEL_CARD.md``: every number in it comes from ``metrics``, ``generalization``, ``monitor``,
    ``wav2vec2`` (notebook 03's report, which says what the Wav2Vec2 member is) and the manifest."""
    chosen = metrics["systems"][metrics["chosen"]]
    counts = df.groupby(["label", "split"]).size().unstack(fill_value=0)
    count_lines = "\n".join(f"| {lab} | " + " | ".join(str(counts.loc[lab].get(s, 0)) for s in ("train", "val", "test")) + " |"
                            for lab in counts.index)
    worst = min(((k, v) for k, v in chosen.items() if k.startswith("recall_")), key=lambda kv: kv[1])
    best_name, best = best_member(metrics)
    return f"""# Model card: crysense cry / scream / normal classifier

*Generated by `crysense.reporting.text.write_model_card` (notebooks 05, 05b, 05c) from `reports/metrics.json`,
`reports/generalization.json`, `reports/monitor.json` and `reports/wav2vec2_metrics.json`; do not edit by hand.*

## What it is
An ensemble ({metrics['chosen']}, chosen on validation) of a fine-tuned YAMNet (AudioSet-pretrained MobileNetV1 on
log-mel patches), {wav2vec2_member(wav2vec2)}, a logistic regression on frozen YAMNet embeddings and one on the frozen
network's AudioSet cry and scream scores, with per-member temperature calibration. It labels 5-15 s windows of 16 kHz
mono audio as **crying** (an infant cry), **screaming**, or **normal** (speech, music, household and street sound)
and averages the windows of a longer recording. Load it with `crysense.serving.inference.Classifier.load()` or
`python -m crysense classify`.

## Intended use
Research on infant-cry detection and a monitoring aid that draws a carer's attention. **Not** a medical device, not a
diagnosis, and not a replacement for a person listening: a missed cry is possible (see the recall below).

## Data
Public recordings (`data_manifest.csv`; licenses per source in `crysense.data.sources`):
{chr(10).join(f"- `{name}`: {SOURCES[name].description}" for name in sorted(df["source"].unique()))}

Clips per split:

| label | train | val | test |
|---|---:|---:|---:|
{count_lines}

Splits never share a baby, recording, speaker or source file; exact duplicates were removed.

## Performance (test split, {metrics['n_clips']} clips, {metrics['n_groups']} groups)
- macro-F1 **{chosen['macro_f1']:.3f}** (95 % cluster-bootstrap CI
  {chosen['macro_f1_ci_low']:.3f}-{chosen['macro_f1_ci_high']:.3f}), accuracy {chosen['accuracy']:.3f};
- recall: crying {chosen['recall_crying']:.3f}, screaming {chosen['recall_screaming']:.3f}, normal {chosen['recall_normal']:.3f}
  (lowest: {worst[0][7:]}, {worst[1]:.3f});
- with every test clip band-limited to 4 kHz: macro-F1 {chosen.get('macro_f1_band_limited_4khz', float('nan')):.3f};
- expected calibration error {chosen['ece']:.3f};
- the best single member on the same clips, {best_name}, scored macro-F1 {best['macro_f1']:.3f}: the combiner was chosen
  on validation before testing and is not re-chosen on test results (every combiner's score is in `reports/metrics.json`).
All systems, baselines and curves: `reports/05_evaluation.html`, `plots/ensemble_*.pdf`.

## As a monitor (streaming evaluation)
{_monitor_card(monitor)}

## Limits
- **Few screams**: the scream class rests on {int(counts.loc['screaming'].sum()) if 'screaming' in counts.index else 0}
  clips from a few dozen Freesound uploads; its test recall is measured on {int(chosen.get('n_screaming', 0))} clips and is
  uncertain.
- **Source and bandwidth confounds**: each class comes mostly from its own corpora, and most crying is 8 kHz phone audio.
  Training weights sources within a class (square root of their size), weights human vocal sounds up within *normal*,
  and augments every class alike (rooms, backgrounds, codecs, phone bandwidth, gain, shift).
{_generalization_card(generalization)}
- **Backbone**: offline, Wav2Vec2 was pretrained in-domain (train split only; plain self-supervision or AudioSet
  YAMNet as its teacher, whichever notebook 02b's validation probe chose) on a small configuration, not the hub
  checkpoint.
- **Crying labels**: Donate-a-Cry, most of the crying, counts only the uploads upstream's curators kept after
  listening; what parents upload to an app unchecked holds much that is not a cry (see the README's label audit).
- Cry *reasons* (hungry, tired, ...) are a separate, much weaker study (notebook 06); this model does not predict them.
"""


def pretraining_markdown(report: dict) -> str:
    """The README's pretraining section: the validation probe of every backbone, the runs, the chosen ones."""
    import pandas as pd
    probe = pd.DataFrame(report["probe"])
    table = probe[["family", "backbone", "val_macro_f1", "val_accuracy"]].rename(
        columns={"val_macro_f1": "probe macro-F1 (val)", "val_accuracy": "probe accuracy (val)"})
    runs = pd.DataFrame(report["runs_table"])
    text = markdown_table(table, index=False)
    if len(runs):
        runs = runs.assign(minutes=runs["minutes"].round(1), **{"parameters (M)": runs["parameters (M)"].round(1)})
        text += ("\n\nPretraining runs (train split only; each the same seeded crops, batch "
                 f"{report['config']['batch_size']}, {report['config']['steps']} steps):\n\n" +
                 markdown_table(runs[["run", "steps", "minutes", "parameters (M)", "loss, first 20 steps",
                                      "loss, last 20 steps"]], index=False))
    chosen = report.get("chosen") or {}
    if chosen:
        text += ("\n\nChosen by the validation probe (the rule fixed before the runs) and loaded by notebooks 03 and 06: " +
                 "; ".join(f"{f}: *{c['backbone']}* (`{c['run']}`)" for f, c in chosen.items()) + ".")
    return text + " Written by `notebooks/02b_pretraining.ipynb` (probe: logistic regression on frozen time-pooled " \
                  "features of training clips, scored on the validation split)."


def _fmt(v, digits=3):
    return "" if v is None or v != v else f"{v:.{digits}f}"


def reasons_markdown(results: dict, leaky_table: pd.DataFrame | None, identity_table: pd.DataFrame | None, cfg) -> str:
    """The README's reasons section: per setting every model's pooled macro-F1, balanced accuracy and permutation
    p-values (AUC for the binary setting), the leaky protocols' scores, and the identity probe."""
    parts = []
    for res in results.values():
        t = res.table()
        f1 = [f"{_fmt(a)} ({b})" for a, b in zip(t["macro_f1"], t["macro_f1_folds"])]
        show = pd.DataFrame({"model": t.index, "macro-F1 (folds)": f1,
                             "balanced accuracy": t["balanced_accuracy"].map(_fmt),
                             "p (macro-F1)": t["p_macro_f1"].map(_fmt), "p (bal. acc.)": t["p_balanced_accuracy"].map(_fmt),
                             "permutations": t["permutations"].map(lambda v: "" if v != v else f"{int(v)}")})
        if "roc_auc" in t:
            show["ROC AUC [95 % CI]"] = [f"{_fmt(a)} [{_fmt(lo)}, {_fmt(hi)}]" for a, lo, hi in
                                         zip(t["roc_auc"], t["roc_auc_low"], t["roc_auc_high"])]
        chance = ", ".join(f"{k} {v:.3f}" for k, v in res.chance.items())
        untested = [f"{m} ({res.cv.seconds.get(m, float('nan')):.0f} s)" for m in t.index[t["permutations"].isna()]]
        note = (f" Not permutation-tested (each permutation reruns the model's nested CV, of the time given): "
                f"{', '.join(untested)}." if untested else "")
        parts.append(f"**{SETTINGS[res.name]}**: {len(res.data)} clips, {res.data['group'].nunique()} babies, reasons "
                     f"{', '.join(f'{r} ({n})' for r, n in res.data['reason'].value_counts().items())}.\n\n"
                     + markdown_table(show, index=False) + f"\n\nExpected under no signal: {chance}.{note}")
    if leaky_table is not None:
        wide = leaky_table.pivot_table(index="model", columns="protocol", values="balanced_accuracy", sort=False)
        parts.append("**Leaky protocols** (parents' tags, pooled balanced accuracy; the high-scoring papers split clips at "
                     "random, after augmenting):\n\n" + markdown_table(wide.map(_fmt).reset_index(), index=False))
    if identity_table is not None:
        parts.append("**Baby identity**: how well frozen features recognise the app install of a clip "
                     "(a ridge classifier, babies with several clips):\n\n" +
                     markdown_table(identity_table.assign(identity_accuracy=identity_table["identity_accuracy"].map(_fmt),
                                                          chance=identity_table["chance"].map(_fmt)).reset_index(), index=False))
    parts.append(f"Nested CV: {cfg.outer_folds} outer x {cfg.inner_folds} inner folds grouped by baby; p-values "
                 "(1 + #null >= observed) / (1 + permutations), labels exchanged between babies. Written by "
                 "`notebooks/06_cry_reasons_hubert.ipynb`.")
    return "\n\n".join(parts)
