"""Compiled Cython kernels: loops over raw pointers, no policy.

Every module follows one contract, written in ``README.md`` beside this
file: Python validates what memory safety needs before ``nogil``, and a
kernel that does not cover its arguments declines by its return value
(``None``; ``optim.update`` returns the index of the key it declined),
having written nothing, so the caller runs the reference. Import the
modules through ``fastdl._backend.load``, which decides what happens when
they are missing. Importing this package first loads fastdl's OpenMP
runtime (through ``threads``) with the wait policy of ``_openmp``.
"""
import importlib

from fastdl._kernels import _openmp


def _import_threads():
    try:
        return importlib.import_module("fastdl._kernels.threads")
    except ImportError:  # fastdl._backend.load reports it
        return None


# First, before any kernel module: the runtime reads its wait policy once, as it loads.
_openmp.load_runtime(_import_threads)
