import signal

import numpy as np
import pytest


def pytest_configure(config):
    """Let Ctrl-C reach the children the tests interrupt, as from a terminal.

    A shell starts a background job (``pytest &``, ``nohup``) with SIGINT
    ignored, and a child inherits an ignored signal: the Ctrl-C tests'
    children would then sleep through their SIGINT. A handler is not
    inherited; the children start with the default, as Python's own does.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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
