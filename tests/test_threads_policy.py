"""How many threads the kernels use, and how fastdl's OpenMP workers wait (issue 20).

The wait policy is read by the OpenMP runtime once, when it loads, so each
case runs in a fresh interpreter (with a timeout) whose environment has no
thread variable but those the case sets.
"""
import ctypes.util
import json
import os
import threading
import subprocess
import sys
import textwrap

import pytest

import fastdl
from fastdl import _backend
from fastdl._kernels import _openmp

threads = _backend.load("threads")
needs_kernels = pytest.mark.skipif(threads is None, reason="compiled kernels not built")
needs_openmp = pytest.mark.skipif(threads is None or not threads.OPENMP,
                                  reason="fastdl built without OpenMP")
needs_proc_maps = pytest.mark.skipif(_openmp.openmp_runtimes() is None,
                                     reason="needs /proc/self/maps (Linux)")
GOMP = ctypes.util.find_library("gomp")

THREAD_VARIABLES = ("OMP_", "GOMP_", "KMP_", "OPENBLAS_", "MKL_", "FASTDL_THREAD")

# Prints what a fresh interpreter sees, after a training step at two threads
# whose result it compares with the same step on one thread.
REPORT = """
import io, json, os, contextlib
import numpy as np
import fastdl
from fastdl import _backend, nets, optim
from fastdl._kernels import _openmp

threads = _backend.load("threads")

def step(n):
    fastdl.set_num_threads(n)
    np.random.seed(0)
    net, adam = nets.SimpleConvNet(), optim.Adam()
    x = np.random.default_rng(0).random((100, 1, 28, 28)).astype(np.float32)
    t = np.arange(100) % 10
    for _ in range(2):
        adam.update(net.params, net.gradient(x, t))
    return net.params

default = fastdl.get_num_threads()
old = threads._set_thread_threshold(1)
one, two = step(1), step(2)
threads._set_thread_threshold(old)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    fastdl.show_config()
print(json.dumps({
    "wait_policy": _openmp.wait_policy, "config": out.getvalue(),
    "variables_left": sorted(k for k in os.environ if k in _openmp.WAIT_VARIABLES),
    "threads": default, "threshold": threads.get_thread_threshold(),
    "same": all(np.array_equal(one[k], two[k]) for k in one),
}))
"""


def report(env=None, first=""):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(THREAD_VARIABLES)}
    result = subprocess.run([sys.executable, "-c", first + "\n" + textwrap.dedent(REPORT)],
                            env={**clean, **(env or {})}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@needs_openmp
@needs_proc_maps
def test_fastdl_sets_a_passive_wait_policy_and_leaves_the_environment_as_it_was():
    seen = report()
    assert seen["wait_policy"] == "PASSIVE (set by fastdl)"
    assert seen["variables_left"] == []  # child processes inherit the user's environment
    assert "OpenMP wait policy: PASSIVE (set by fastdl)" in seen["config"]
    assert "OpenMP runtime: /" in seen["config"]
    assert f"thread threshold: {seen['threshold']} elements" in seen["config"]
    assert f"threads: {seen['threads']} (OpenMP on)" in seen["config"]
    assert seen["same"]


@needs_openmp
@pytest.mark.parametrize("variable, value", [("OMP_WAIT_POLICY", "ACTIVE"),
                                             ("GOMP_SPINCOUNT", "1000"),
                                             ("KMP_BLOCKTIME", "0")])
def test_the_users_wait_policy_wins(variable, value):
    seen = report({variable: value})
    assert seen["wait_policy"] == f"{variable}={value} (yours)"
    assert seen["variables_left"] == [variable]
    assert seen["same"]


@needs_openmp
@needs_proc_maps
def test_openmp_loaded_before_fastdl_keeps_its_policy_and_fastdl_says_so():
    # What a module linked to fastdl's OpenMP runtime does when imported first.
    if _openmp.runtime is None:
        pytest.skip("this test process loaded OpenMP before fastdl")
    seen = report(first=f"import ctypes; ctypes.CDLL({_openmp.runtime!r})")
    assert seen["wait_policy"].startswith("the runtime's own: OpenMP was loaded before fastdl")
    assert "OMP_WAIT_POLICY=PASSIVE" in seen["wait_policy"]  # how to change it
    assert seen["same"]


@needs_openmp
@needs_proc_maps
@pytest.mark.skipif(GOMP is None, reason="GNU OpenMP not found")
def test_another_copy_of_openmp_loaded_first_does_not_change_fastdls():
    # An installed wheel brings its own renamed libgomp; the system's is another runtime.
    if _openmp.runtime is None or os.path.basename(_openmp.runtime).startswith("libgomp.so"):
        pytest.skip("fastdl uses the system's GNU OpenMP (not a wheel's copy)")
    seen = report(first=f"import ctypes; ctypes.CDLL({GOMP!r})")
    assert seen["wait_policy"] == "PASSIVE (set by fastdl)"
    assert seen["same"]


@needs_openmp
@needs_proc_maps
def test_a_library_with_its_own_openmp_runtime_loaded_first_does_not_change_fastdls():
    # scikit-learn's (and torch's) wheels bring a renamed copy of libgomp:
    # a runtime of their own, which fastdl does not share.
    first = next((name for name in ("sklearn.cluster", "torch")
                  if _importable(name.split(".")[0])), None)
    if first is None:
        pytest.skip("neither scikit-learn nor torch is installed")
    seen = report(first=f"import {first}")
    # (A build of theirs that links the system's libgomp shares fastdl's: the case above.)
    assert (seen["wait_policy"] == "PASSIVE (set by fastdl)"
            or seen["wait_policy"].startswith("the runtime's own")), seen["wait_policy"]
    assert seen["same"]


def _importable(name):
    import importlib.util
    return importlib.util.find_spec(name) is not None


@needs_openmp
def test_omp_num_threads_is_the_users_count_even_above_the_cpus():
    seen = report({"OMP_NUM_THREADS": "7"})
    assert seen["threads"] == 7
    assert seen["same"]


@needs_openmp
def test_without_omp_num_threads_the_count_is_the_cpus_available():
    seen = report()
    assert seen["threads"] == threads.available_cpus()


@needs_openmp
def test_the_threshold_can_be_set_for_the_machine():
    assert report({"FASTDL_THREAD_THRESHOLD": "4096"})["threshold"] == 4096


@needs_openmp
@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_a_bad_threshold_is_a_clear_error(value):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(THREAD_VARIABLES)}
    result = subprocess.run([sys.executable, "-c", "import fastdl"], capture_output=True,
                            text=True, timeout=60, env={**clean, "FASTDL_THREAD_THRESHOLD": value})
    assert result.returncode != 0
    assert "FASTDL_THREAD_THRESHOLD must be a positive integer" in result.stderr


def test_the_wait_policy_is_described_without_kernels_too():
    assert isinstance(_openmp.wait_policy, str) and _openmp.wait_policy


# ---- the CPUs a process may use ----------------------------------------------

@pytest.fixture
def cgroups(tmp_path):
    """Write cgroup files under a fake root; returns (root, /proc/self/cgroup file)."""
    def make(files, own="0::/"):
        for path, text in files.items():
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(text)
        proc = tmp_path / "proc-cgroup"
        proc.write_text(own + "\n")
        return str(tmp_path), str(proc)
    return make


def affinity():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


@needs_kernels
def test_no_cgroup_limit_means_the_affinity_mask(cgroups):
    assert threads.available_cpus(*cgroups({"cpu.max": "max 100000\n"})) == affinity()
    assert threads.available_cpus(*cgroups({})) == affinity()
    assert threads.available_cpus(*cgroups({"cpu.max": "lots 100000\n"})) == affinity()  # malformed: no limit


@needs_kernels
@pytest.mark.parametrize("quota, cpus", [("50000 100000", 1), ("100000 100000", 1),
                                         ("150000 100000", 2)])
def test_a_cgroup_v2_quota_caps_the_count_rounded_up(cgroups, quota, cpus):
    assert threads.available_cpus(*cgroups({"cpu.max": quota + "\n"})) == min(cpus, affinity())


@needs_kernels
def test_the_tightest_quota_of_the_group_and_its_parents_applies(cgroups):
    root, proc = cgroups({"cpu.max": "max 100000\n", "a/cpu.max": "100000 100000\n",
                          "a/b/cpu.max": "max 100000\n"}, own="0::/a/b")
    assert threads.available_cpus(root, proc) == 1


@needs_kernels
def test_a_cgroup_v1_quota_caps_the_count(cgroups):
    root, proc = cgroups({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"},
                         own="4:cpu,cpuacct:/")
    assert threads.available_cpus(root, proc) == 1
    root, proc = cgroups({"cpu/cpu.cfs_quota_us": "-1\n"}, own="4:cpu,cpuacct:/")
    assert threads.available_cpus(root, proc) == affinity()


@needs_kernels
def test_the_default_count_is_capped_by_the_cpus_and_set_num_threads_lifts_the_cap():
    n = fastdl.get_num_threads()
    try:
        if "OMP_NUM_THREADS" not in os.environ:
            assert n <= threads.available_cpus()
        fastdl.set_num_threads(threads.available_cpus() + 1)
        assert fastdl.get_num_threads() == (threads.available_cpus() + 1 if threads.OPENMP else 1)
    finally:
        fastdl.set_num_threads(n)


@needs_kernels
def test_set_num_threads_in_one_thread_keeps_the_others_within_the_cpus():
    """It lifted the CPU cap for every thread while setting the count of its own only."""
    n = fastdl.get_num_threads()
    seen = []
    try:
        fastdl.set_num_threads(1)
        other = threading.Thread(target=lambda: seen.append(fastdl.get_num_threads()))
        other.start()
        other.join()
        if "OMP_NUM_THREADS" not in os.environ:
            assert 1 <= seen[0] <= threads.available_cpus()
    finally:
        fastdl.set_num_threads(n)


@needs_openmp
def test_calibration_sets_the_threshold_it_measured():
    n, old = fastdl.get_num_threads(), threads.get_thread_threshold()
    try:
        fastdl.set_num_threads(2)
        found = threads.calibrate(rounds=1, sizes=(2**12, 2**14))
        assert found in (None, 2**12, 2**14)
        assert threads.get_thread_threshold() == found  # None: never split
        assert fastdl.get_num_threads() == 2
    finally:
        threads._set_thread_threshold(old)
        fastdl.set_num_threads(n)


def test_calibration_on_one_thread_finds_nothing(monkeypatch):
    n = fastdl.get_num_threads()
    try:
        fastdl.set_num_threads(1)
        assert fastdl.calibrate_threads() is None
    finally:
        fastdl.set_num_threads(n)
