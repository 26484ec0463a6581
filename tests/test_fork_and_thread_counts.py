"""fastdl after fork() and with absurd thread counts (issue 13, items 1 and 5).

GNU OpenMP's thread pool does not survive fork(): a child that entered a
parallel region its parent had used used to wait forever. Each case runs in
a child interpreter with a timeout, so a hang fails the test instead of
stalling the suite.
"""
import subprocess
import sys
import textwrap

import pytest

import fastdl

FORK_AFTER_PARALLEL_UPDATE = """
import multiprocessing, os, sys
import numpy as np
import fastdl
from fastdl.optim import Momentum
from fastdl.layers import Convolution

fastdl.set_num_threads(2)
n = 2**19  # above the threshold: the parent runs a parallel region
params, grads = {"W": np.ones(n)}, {"W": np.ones(n)}
Momentum().update(params, grads)
conv = Convolution(np.ones((4, 3, 3, 3)), np.zeros(4), pad=1)
conv.forward(np.ones((64, 3, 32, 32)))

def child():
    assert fastdl.get_num_threads() == 1
    Momentum().update({"W": np.ones(n)}, {"W": np.ones(n)})
    conv.forward(np.ones((64, 3, 32, 32)))

{start}
print("ok")
"""

STARTS = {
    "os.fork": """
pid = os.fork()
if pid == 0:
    child()
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0
""",
    "multiprocessing fork": """
p = multiprocessing.get_context("fork").Process(target=child)
p.start(); p.join()
assert p.exitcode == 0
""",
}


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork()")
@pytest.mark.parametrize("start", sorted(STARTS))
def test_a_forked_child_runs_large_updates_without_hanging(start):
    code = FORK_AFTER_PARALLEL_UPDATE.replace("{start}", STARTS[start])
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("build", ["kernels", "no kernels"])
@pytest.mark.parametrize("n", [0, -1, 1025, 2**31 - 1, 2**63])
def test_absurd_thread_counts_are_a_value_error(n, build, monkeypatch):
    if build == "no kernels":
        monkeypatch.setattr(fastdl, "_threads", None)
    before = fastdl.get_num_threads()
    with pytest.raises(ValueError, match="number of threads"):
        fastdl.set_num_threads(n)
    assert fastdl.get_num_threads() == before


@pytest.mark.parametrize("build", ["kernels", "no kernels"])
@pytest.mark.parametrize("n", [2.0, "2", None, True, 1025.0])
def test_thread_counts_that_are_not_integers_are_a_type_error(n, build, monkeypatch):
    if build == "no kernels":
        monkeypatch.setattr(fastdl, "_threads", None)
    with pytest.raises(TypeError, match="number of threads"):
        fastdl.set_num_threads(n)
