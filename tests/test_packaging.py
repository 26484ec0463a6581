"""The installed distribution: its name, version, license and install hints."""
import importlib.metadata
import os
import sys

import pytest

import fastdl
from fastdl.__main__ import main

DISTRIBUTION = "fastdl-scratch"  # "fastdl" on PyPI is an unrelated project


@pytest.fixture
def distribution():
    """The distribution installed from a wheel (a source checkout has none: skip)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is None or dist.read_text("RECORD") is None:
        if os.environ.get("CI_INSTALLED_WHEEL") == "1":
            pytest.fail(f"CI installed the wheel, yet {DISTRIBUTION} is not installed from one")
        pytest.skip(f"{DISTRIBUTION} is not installed from a wheel")
    return dist


def test_version_is_written_once(distribution):
    assert distribution.version == fastdl.__version__


def test_license_is_mit_and_shipped(distribution):
    assert distribution.metadata["License-Expression"] == "MIT"
    assert distribution.read_text("licenses/LICENSE").startswith("MIT License")


def test_classifiers_name_every_supported_python_from_the_required_one(distribution):
    prefix = "Programming Language :: Python :: 3."
    minors = sorted(int(c[len(prefix):]) for c in distribution.metadata.get_all("Classifier") if c.startswith(prefix))
    assert minors == list(range(10, 15))
    assert distribution.metadata["Requires-Python"] == f">=3.{minors[0]}"


def test_missing_extra_hint_names_the_distribution(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastdl.chapter.cli", None)  # import fails
    assert main() == 1
    assert f"pip install '{DISTRIBUTION}[chapter]'" in capsys.readouterr().err
