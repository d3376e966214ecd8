"""What the end-to-end tests need beyond the package: a real headless browser."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def rendered_dom() -> Callable[[Path], str]:
    """A page's DOM after its scripts ran, as a real headless browser dumps it: Debian's
    chromium, installed with apt where it is missing and we may install it."""
    browser = _find_browser()
    if browser is None and shutil.which("apt-get") and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, capture_output=True, env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, env=env)
            subprocess.run(install, capture_output=True, env=env)
        browser = _find_browser()
    if browser is None:
        pytest.fail("the report's browser test needs chromium: `apt-get install chromium` "
                    "(or put chromium, chromium-browser or google-chrome on PATH)")

    def render(page: Path) -> str:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--virtual-time-budget=60000", "--dump-dom", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=True)
        return result.stdout

    return render
