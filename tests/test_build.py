"""The compiled kernels are present, and the tests import the installed package."""
import os
import warnings

import numpy as np
import pytest

import fastdl
from fastdl import _backend


def test_compiled_kernels_load():
    if not _backend.REQUIRE_CYTHON:
        pytest.skip("set FASTDL_REQUIRE_CYTHON=1 to require the compiled kernels")
    from fastdl._kernels import optim
    assert optim.__file__.endswith((".so", ".pyd"))
    assert not _backend.missing


def test_numpy_2_is_required():
    assert int(np.__version__.split(".")[0]) >= 2


def test_show_config(capsys):
    fastdl.show_config()
    assert fastdl.__version__ in capsys.readouterr().out


def test_imported_from_the_installed_package_in_ci():
    if os.environ.get("CI_INSTALLED_WHEEL") != "1":
        pytest.skip("only CI checks where fastdl was imported from")
    assert "site-packages" in fastdl.__file__


def test_a_missing_kernel_warns_once_naming_it(monkeypatch):
    monkeypatch.setattr(_backend, "REQUIRE_CYTHON", False)
    monkeypatch.setattr(_backend, "missing", {})
    with pytest.warns(RuntimeWarning, match=r"fastdl\._kernels\.no_such_kernel does not import \(No module"):
        assert _backend.load("no_such_kernel") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _backend.load("no_such_kernel") is None  # once is enough
    assert "no_such_kernel" in _backend.missing


def test_a_missing_kernel_is_an_error_when_required(monkeypatch):
    monkeypatch.setattr(_backend, "REQUIRE_CYTHON", True)
    with pytest.raises(ImportError, match="FASTDL_REQUIRE_CYTHON=1 but fastdl._kernels.no_such_kernel"):
        _backend.load("no_such_kernel")
