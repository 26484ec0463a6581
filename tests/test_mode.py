"""The exact/fast switch: per thread, per async task, restored on exit and on exceptions."""
import asyncio
import os
import subprocess
import sys
import threading

import pytest

import fastdl


def test_default_is_exact():
    assert fastdl.get_mode() == "exact"


def test_set_mode_and_back():
    fastdl.set_mode("fast")
    try:
        assert fastdl.get_mode() == "fast"
    finally:
        fastdl.set_mode("exact")
    assert fastdl.get_mode() == "exact"


@pytest.mark.parametrize("bad", ["Fast", "", "fast ", None, 1, b"fast"])
def test_other_values_are_a_value_error_naming_the_choices(bad):
    with pytest.raises(ValueError, match="'exact', 'fast'"):
        fastdl.set_mode(bad)
    with pytest.raises(ValueError, match="'exact', 'fast'"):
        fastdl.mode(bad)
    assert fastdl.get_mode() == "exact"


def test_context_manager_restores_on_exit_and_exception():
    with fastdl.mode("fast"):
        assert fastdl.get_mode() == "fast"
        with fastdl.mode("exact"):
            assert fastdl.get_mode() == "exact"
        assert fastdl.get_mode() == "fast"
    assert fastdl.get_mode() == "exact"
    with pytest.raises(KeyError), fastdl.mode("fast"):
        raise KeyError("x")
    assert fastdl.get_mode() == "exact"


def test_decorator_reentrant():
    fast = fastdl.mode("fast")

    @fast
    def depth(n):
        assert fastdl.get_mode() == "fast"
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3
    assert fastdl.get_mode() == "exact"

    @fast
    def fails():
        raise RuntimeError

    with pytest.raises(RuntimeError):
        fails()
    assert fastdl.get_mode() == "exact"


def test_threads_are_isolated():
    seen = {}
    ready, release = threading.Event(), threading.Event()

    def worker():
        seen["start"] = fastdl.get_mode()
        fastdl.set_mode("fast")
        ready.set()
        release.wait(10)
        seen["end"] = fastdl.get_mode()

    with fastdl.mode("exact"):
        thread = threading.Thread(target=worker)
        thread.start()
        ready.wait(10)
        assert fastdl.get_mode() == "exact"  # the worker's set_mode stays in the worker
        fastdl.set_mode("exact")
        release.set()
        thread.join(10)
    assert seen == {"start": "exact", "end": "fast"}


def test_async_tasks_are_isolated():
    shared = fastdl.mode("fast")

    async def task(name, delay):
        with shared:
            await asyncio.sleep(delay)
            inside = fastdl.get_mode()
        return name, inside, fastdl.get_mode()

    async def other():
        await asyncio.sleep(0.01)
        return fastdl.get_mode()

    async def main():
        return await asyncio.gather(task("a", 0.02), task("b", 0.01), other())

    a, b, mode_of_other = asyncio.run(main())
    assert a == ("a", "fast", "exact") and b == ("b", "fast", "exact")
    assert mode_of_other == "exact"
    assert fastdl.get_mode() == "exact"


@pytest.mark.parametrize(("value", "expected"), [("fast", "fast"), ("exact", "exact")])
def test_environment_variable_is_read_at_import(value, expected):
    env = dict(os.environ, FASTDL_MODE=value)
    result = subprocess.run([sys.executable, "-c", "import fastdl; print(fastdl.get_mode())"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_bad_environment_variable_fails_the_import():
    env = dict(os.environ, FASTDL_MODE="turbo")
    result = subprocess.run([sys.executable, "-c", "import fastdl"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "ValueError" in result.stderr and "'exact', 'fast'" in result.stderr and "turbo" in result.stderr


def test_cli_takes_mode():
    from fastdl.chapter.cli import build_parser
    assert build_parser().parse_args(["convnet", "--mode", "fast"]).mode == "fast"
    assert build_parser().parse_args(["--mode", "fast", "all"]).mode == "fast"
    assert build_parser().parse_args(["convnet"]).mode == "exact"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["convnet", "--mode", "turbo"])


def test_an_experiment_records_its_mode(tmp_path):
    from fastdl.chapter.runner import run_experiment
    with fastdl.mode("fast"):
        record = run_experiment("paths", "fastdl", "quick", None, tmp_path)
    assert record["mode"] == "fast"
