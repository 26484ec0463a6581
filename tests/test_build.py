"""The compiled kernels are present, and the tests import the installed package."""
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
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


SETUP_PY = pathlib.Path(__file__).resolve().parent.parent / "setup.py"
PROBE = """
import runpy, Cython.Build, setuptools
Cython.Build.cythonize = lambda *args, **kwargs: []
setuptools.setup = lambda **kwargs: None
ns = runpy.run_path(SETUP_PY)
from setuptools._distutils.ccompiler import new_compiler
from setuptools._distutils.sysconfig import customize_compiler
compiler = new_compiler()
customize_compiler(compiler)
print(ns["compiler_builds"](compiler, "int main(void) { return 0; }\\n", []),
      ns["compiler_supports_openmp"](compiler))
"""


def test_compiler_probes_link_with_the_users_flags(tmp_path):
    """A sanitizer build (CFLAGS=LDFLAGS=-fsanitize=address) keeps OpenMP (issue 13, item 7)."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if not SETUP_PY.exists() or sys.platform == "win32" or shutil.which(cc) is None:
        pytest.skip("needs the source tree's setup.py and a C compiler")
    pytest.importorskip("Cython.Build", reason="setup.py needs Cython (the test extra brings it)")
    pytest.importorskip("setuptools", reason="setup.py needs setuptools (the test extra brings it)")
    check = tmp_path / "check.c"
    check.write_text("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
    if subprocess.run([cc, "-fopenmp", "-fsanitize=address", str(check), "-o", str(tmp_path / "check")],
                      capture_output=True).returncode != 0:
        pytest.skip("the compiler cannot build with -fsanitize=address and OpenMP")
    env = {**os.environ, "CFLAGS": "-fsanitize=address", "LDFLAGS": "-fsanitize=address"}
    result = subprocess.run([sys.executable, "-c", f"SETUP_PY = {str(SETUP_PY)!r}" + PROBE], env=env,
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.stdout.split()[-2:] == ["True", "True"], result.stdout + result.stderr
