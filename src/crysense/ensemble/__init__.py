"""The ensemble: members on frozen features (`members`) and the combiners fitted on validation (`combiners`:
temperature, averaging, weighted averaging, majority vote, stacking, and the `Ensemble` that holds the fitted ones
and the chosen one). Their public names are re-exported here (``ensemble.Ensemble``).

May import: `config`, `data`, `training`, `yamnet`, `speech`.
"""
from .combiners import (
    EPS,
    Ensemble,
    Stacker,
    apply_temperature,
    average,
    fit_temperature,
    fit_weights,
    majority_vote,
    nll,
    validation_scores_figure,
    weighted_average,
)
from .members import fit_frozen_member

__all__ = ["EPS", "Ensemble", "Stacker", "apply_temperature", "average", "fit_frozen_member", "fit_temperature",
           "fit_weights", "majority_vote", "nll", "validation_scores_figure", "weighted_average"]
