"""The value model's fingerprint (stages/value/fits.py) tells fits of other code or libraries
apart: a saved fit is reused only under the same one."""

from __future__ import annotations

import shutil
from pathlib import Path

from onetoone.stages.value.fits import FIT_LIBRARIES, PACKAGE_DIR, model_fingerprint


def _copy_of_the_value_package(tmp_path: Path) -> Path:
    copy = tmp_path / "value"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_fingerprint_is_the_same_for_the_same_code_and_libraries(tmp_path) -> None:
    assert model_fingerprint() == model_fingerprint()
    assert model_fingerprint(_copy_of_the_value_package(tmp_path)) == model_fingerprint()


def test_a_change_to_any_module_of_the_value_package_changes_the_fingerprint(tmp_path) -> None:
    copy = _copy_of_the_value_package(tmp_path)
    for module in ("model.py", "selection.py", "hybrid.py", "store.py"):
        edited = _copy_of_the_value_package(tmp_path / module)
        (edited / module).write_text((copy / module).read_text() + "\nHORIZON = 1\n")
        assert model_fingerprint(edited) != model_fingerprint(copy), module


def test_the_library_versions_are_part_of_the_fingerprint() -> None:
    assert {"numpy", "scipy", "scikit-learn"} <= set(FIT_LIBRARIES)
    assert model_fingerprint(libraries=(*FIT_LIBRARIES, "psycopg")) != model_fingerprint()
