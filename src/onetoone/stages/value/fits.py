"""The value model's saved fits and the refit policy of the daily value step.

Choosing and fitting the model (the holdout check, the backtest, the final fits) is most of
the step's time, while scoring every customer with fitted parameters is cheap. A fit is
therefore saved in `value.model_fits` and reused by later runs; a run refits when

- no saved fit was made by this version of the value model (`model_fingerprint`: its code and
  the numerical libraries it runs on), e.g. on the first run or after an upgrade;
- every saved fit of this version saw data after this run's calibration end (an earlier
  interval, a backfill): a run never scores with a model fitted on its future;
- the latest usable fit is REFIT_EVERY or more older than this run's calibration end.

Otherwise the run scores with the latest saved fit whose calibration end is on or before its
own. Every customer is scored, not only those with new orders: a customer's age and time since
the last purchase move every day, so every score does. Because the fit a run uses is the one
saved for the latest calibration end on or before its own, rerunning a day (or backfilling
one inside a refit period) finds the same fit and writes the same values.

The boosted correction (a scikit-learn regressor) is saved pickled; the fingerprint includes
the scikit-learn version so a fit is never unpickled by another one, and a saved fit that
cannot be read is refitted. Only the pipeline writes `value.model_fits`: loading it trusts
the warehouse as much as the pipeline's own code.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from onetoone.stages.value.model import PURCHASE_MODELS, GammaGamma, ValueModel

# How long a fit is reused: a week, as the identity step's full re-scoring.
REFIT_EVERY = timedelta(days=7)
# The libraries whose versions change what a fit is or how it is read back.
FIT_LIBRARIES = ("numpy", "scipy", "scikit-learn", "pandas")
PACKAGE_DIR = Path(__file__).parent


@dataclass(frozen=True)
class SavedFit:
    fit_run_id: str  # the run that fitted it
    calibration_end: date
    model: ValueModel


@dataclass(frozen=True)
class FitDecision:
    """Whether this run refits and why; `saved` is the fit to score with when it does not."""

    refit: bool
    reason: str
    saved: SavedFit | None = None


def model_fingerprint(package: Path = PACKAGE_DIR,
                      libraries: tuple[str, ...] = FIT_LIBRARIES) -> str:
    """Identifies what a fit is: the value package's code (every module: the settings, the
    models, the backtest, the correction and the scoring live there) and the versions of the
    libraries it fits with. A fit of another fingerprint is never reused."""
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update("|".join(f"{name}={version(name)}" for name in libraries).encode())
    return digest.hexdigest()[:16]


def decide(conn: psycopg.Connection, calibration_end: date, fingerprint: str) -> FitDecision:
    """The refit policy (see the module's docstring) for a run calibrated up to
    `calibration_end`."""
    saved = conn.execute("select fit_run_id, calibration_end, fingerprint from value.model_fits"
                         " order by calibration_end desc, fitted_at desc").fetchall()
    if not saved:
        return FitDecision(True, "no saved fit")
    usable = [row for row in saved if row[2] == fingerprint]
    if not usable:
        return FitDecision(True, "the saved fit was made by another version of the value model"
                                 " (its code or libraries changed)")
    earlier = [row for row in usable if row[1] <= calibration_end]
    if not earlier:
        return FitDecision(True, f"the saved fits saw data after this run's calibration end"
                                 f" {calibration_end} (the earliest is of {usable[-1][1]})")
    fit_run_id, fit_end, _ = earlier[0]
    age = calibration_end - fit_end
    old = f"{age.days} day{'' if age.days == 1 else 's'} old"
    if age >= REFIT_EVERY:
        return FitDecision(True, f"the saved fit of {fit_end} is {old}, the refit period is"
                                 f" {REFIT_EVERY.days} days")
    try:
        model = load_fit(conn, fit_run_id)
    except (pickle.UnpicklingError, AttributeError, ImportError, KeyError, TypeError,
            ValueError, EOFError) as error:
        return FitDecision(True, f"the saved fit of {fit_end} cannot be read back"
                                 f" ({type(error).__name__})")
    return FitDecision(False, f"the saved fit of {fit_end} is {old}, within the"
                              f" {REFIT_EVERY.days}-day refit period",
                       SavedFit(fit_run_id, fit_end, model))


def load_fit(conn: psycopg.Connection, fit_run_id: str) -> ValueModel:
    """The saved fit as the `ValueModel` it was when saved."""
    purchase_name, purchase_params, alive_name, alive_params, spend_params, correction = (
        conn.execute("select purchase_model, purchase_params, alive_model, alive_params,"
                     " spend_params, correction from value.model_fits where fit_run_id = %s",
                     (fit_run_id,)).fetchone())
    by_name = {model.name: model for model in PURCHASE_MODELS}
    alive = by_name[alive_name](**alive_params) if alive_name else None
    return ValueModel(by_name[purchase_name](**purchase_params), GammaGamma(**spend_params),
                      correction=pickle.loads(correction) if correction is not None else None,
                      alive=alive)


def save_fit(conn: psycopg.Connection, *, fit_run_id: str, calibration_end: date,
             fingerprint: str, model: ValueModel) -> None:
    """Save `model` as the fit of `calibration_end`, replacing one saved for the same
    calibration end or by the same run, and dropping the fits of other fingerprints (no run
    of this code can use them)."""
    conn.execute("delete from value.model_fits where fit_run_id = %s or calibration_end = %s"
                 " or fingerprint <> %s", (fit_run_id, calibration_end, fingerprint))
    conn.execute(
        "insert into value.model_fits (fit_run_id, calibration_end, fingerprint, fitted_at,"
        " purchase_model, purchase_params, alive_model, alive_params, spend_params,"
        " correction) values (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s)",
        (fit_run_id, calibration_end, fingerprint, model.purchases.name,
         Jsonb(asdict(model.purchases)), model.alive.name if model.alive else None,
         Jsonb(asdict(model.alive)) if model.alive else None, Jsonb(asdict(model.spend)),
         pickle.dumps(model.correction, protocol=pickle.HIGHEST_PROTOCOL)
         if model.correction else None))
