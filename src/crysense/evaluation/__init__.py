"""How well the study's models do: test statistics and figures (`scoring`: cluster-bootstrap intervals, McNemar,
calibration, ROC/PR, predictions files), leave one source out (`loso`, its tables `loso_tables`), the monitor on
streams (`monitor`: false alerts per hour, episodes caught, latency) and the audit of the crying labels by AudioSet
YAMNet (`labelaudit`). `scoring`'s names, and the metrics of `training.metrics`, are re-exported here
(``evaluation.metrics``, ``evaluation.test_table``).

May import: `config`, `data`, `training`, `yamnet`, `speech`, `ensemble`, `serving` (the monitor is scored with the
service's own alert rule and windows).
"""
from ..training.metrics import macro_f1, metrics
from .scoring import (
    bootstrap_ci,
    chance_baselines,
    classification_report_figure,
    cluster_bootstrap,
    expected_calibration_error,
    load_predictions,
    mcnemar,
    metrics_table,
    one_vs_rest_auc,
    per_source_figure,
    per_source_table,
    plot_history,
    predictions_frame,
    predictions_name,
    reliability_figure,
    reload_gap,
    roc_pr_figure,
    save_predictions,
    test_table,
)

__all__ = ["bootstrap_ci", "chance_baselines", "classification_report_figure", "cluster_bootstrap",
           "expected_calibration_error", "load_predictions", "macro_f1", "mcnemar", "metrics", "metrics_table",
           "one_vs_rest_auc", "per_source_figure", "per_source_table", "plot_history", "predictions_frame",
           "predictions_name", "reliability_figure", "reload_gap", "roc_pr_figure", "save_predictions", "test_table"]
