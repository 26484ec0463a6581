import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_global_numpy_stream():
    """The book draws from the global NumPy stream; fix it for every test."""
    np.random.seed(0)


@pytest.fixture(autouse=True)
def _run_outside_the_source_tree(tmp_path, monkeypatch):
    """Run every test from an empty folder.

    Child interpreters (``python -c``, a forkserver or spawn pool) put their
    working folder first on ``sys.path``; from the source root they would
    import the uncompiled source instead of the installed package.
    """
    monkeypatch.chdir(tmp_path)
