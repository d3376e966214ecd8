"""Strategic value: predicted future purchases and spend, and a discounted lifetime value.

``io`` reads and validates a transactions file, ``rfm`` summarises it per customer at a
calibration end, ``model`` holds BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma and the discounted
CLV (fitted with scipy), ``hybrid`` the boosted correction (scikit-learn), ``selection`` the
backtest inside the calibration window that chooses between them, ``scoring`` chooses, fits
and scores in one call, ``report`` checks the predictions against a holdout period,
``store`` is the pipeline's value step and ``fits`` its saved fits and refit policy;
`onetoone.cli.value` is the `onetoone value` command.
"""

from onetoone.stages.value.io import ValueInputError, read_transactions, validate_transactions
from onetoone.stages.value.model import (
    BetaGeometricNBD,
    GammaGamma,
    ModelFitError,
    ModifiedBetaGeometricNBD,
    ParetoNBD,
    ValueModel,
)
from onetoone.stages.value.report import HoldoutReport
from onetoone.stages.value.scoring import ValueRun, score_transactions
from onetoone.stages.value.selection import Backtest, choose_model

__all__ = ["Backtest", "BetaGeometricNBD", "GammaGamma", "HoldoutReport", "ModelFitError",
           "ModifiedBetaGeometricNBD", "ParetoNBD", "ValueInputError", "ValueModel", "ValueRun",
           "choose_model", "read_transactions", "score_transactions", "validate_transactions"]
