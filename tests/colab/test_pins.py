"""Colab's package list (tests/colab/pins.txt) against what pyproject.toml asks for: every bound accepts Colab's
version, so ``pip install o4-magics`` on Colab replaces none of its packages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PINS = ROOT / "tests" / "colab" / "pins.txt"
#: The runtime named in issue #13 (Colab, August 2026), and the markdown packages the project is adding.
COLAB = {
    "ipython": "7.34.0",
    "ipykernel": "6.17.1",
    "ipywidgets": "7.7.1",
    "widgetsnbextension": "3.6.10",
    "notebook": "6.5.7",
    "traitlets": "5.7.1",
    "openai": "2.54.0",
    "nbformat": "5.11.1",
    "httpx": "0.28.1",
    "pandas": "2.2.3",
    "numpy": "2.1.3",
    "matplotlib": "3.10.0",
    "pillow": "11.3.0",
    "markdown-it-py": "4.2.0",
    "mdit-py-plugins": "0.6.1",
    "nh3": "0.3.6",
}
#: Bounds the project is taking on for its markdown rendering (issue #13 asks that they accept Colab's).
PLANNED = ["markdown-it-py>=3", "mdit-py-plugins>=0.4", "nh3>=0.2.14"]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    found = {}
    for line in PINS.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            found[normalize(name)] = version
    return found


def dependencies() -> list[Requirement]:
    """pyproject.toml's runtime requirements."""
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_pins_are_colabs_published_versions_with_their_source():
    header = PINS.read_text().split("\n\n")[0]
    assert "github.com/googlecolab/backend-info" in header and "pip-freeze.txt" in header
    assert "2026-08-19" in header and "a72407924822ea377410b69f0a290150bcb5c9c2" in header
    pinned = pins()
    assert {name: pinned.get(name) for name in COLAB} == COLAB
    assert len(pinned) > 100  # the whole dependency closure, not only the names above


@pytest.mark.parametrize("requirement", [str(r) for r in dependencies()] + PLANNED)
def test_every_bound_accepts_colabs_version(requirement):
    wanted = Requirement(requirement)
    version = pins().get(normalize(wanted.name))
    if version is None:
        pytest.skip(f"{wanted.name} is not on Colab: pip installs it there without replacing anything")
    assert wanted.specifier.contains(version, prereleases=True), f"{requirement} rejects Colab's {version}"
