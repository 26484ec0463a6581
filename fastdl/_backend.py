"""Load the compiled kernels, or record why they are missing.

Without them fastdl still works (every public class falls back to the
NumPy reference), and each missing module emits one ``RuntimeWarning`` at
import naming it and why. ``FASTDL_REQUIRE_CYTHON=1`` turns a missing
kernel into an ImportError, so that a broken build cannot pass the tests
quietly.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType

REQUIRE_CYTHON = os.environ.get("FASTDL_REQUIRE_CYTHON") == "1"

missing: dict[str, ImportError] = {}  # kernel module name -> the ImportError that hid it


def load(name: str) -> ModuleType | None:
    """Return the compiled module ``fastdl._kernels.<name>``, or ``None`` (with a warning, once)."""
    try:
        return importlib.import_module(f"fastdl._kernels.{name}")
    except ImportError as exc:
        if REQUIRE_CYTHON:
            raise ImportError(
                f"FASTDL_REQUIRE_CYTHON=1 but fastdl._kernels.{name} does not import: {exc}"
            ) from exc
        if name not in missing:
            warnings.warn(f"fastdl._kernels.{name} does not import ({exc}); fastdl uses the "
                          "NumPy reference instead, with the same results, slower",
                          RuntimeWarning, stacklevel=2)
        missing[name] = exc
        return None


def _cpu_has_avx2() -> bool:
    cpu = load("cpu")
    return cpu is not None and cpu.has_avx2()


def builds(name: str) -> list[str]:
    """Names of the builds of kernel module ``name`` this machine can run, fastest last."""
    return [name, name + "_avx2"] if _cpu_has_avx2() else [name]


def load_fastest(name: str) -> ModuleType | None:
    """The fastest build of ``fastdl._kernels.<name>`` this CPU runs, or ``None``.

    ``<name>_avx2`` is the same source compiled for AVX2 (same results);
    it is used where the CPU has AVX2, the baseline build elsewhere.
    """
    module = load(name)
    if module is None:
        return None
    return load(builds(name)[-1]) or module
