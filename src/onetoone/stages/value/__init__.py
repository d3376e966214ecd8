"""Strategic value: predicted future purchases and spend, and a discounted lifetime value.

``io`` reads and validates a transactions file, ``rfm`` summarises it per customer at a
calibration end, ``model`` holds BG/NBD, Gamma-Gamma and the discounted CLV (fitted with
scipy), ``scoring`` fits and scores in one call, ``report`` checks the predictions against a
holdout period and ``cli`` is the `onetoone value` sub-command.
"""

from onetoone.stages.value.io import ValueInputError, read_transactions, validate_transactions
from onetoone.stages.value.model import BetaGeometricNBD, GammaGamma, ModelFitError, ValueModel
from onetoone.stages.value.report import HoldoutReport
from onetoone.stages.value.scoring import ValueRun, score_transactions

__all__ = ["BetaGeometricNBD", "GammaGamma", "HoldoutReport", "ModelFitError", "ValueInputError",
           "ValueModel", "ValueRun", "read_transactions", "score_transactions",
           "validate_transactions"]
