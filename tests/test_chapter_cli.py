"""The ``fastdl`` command: subcommands, report, and one-line errors."""
import json
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import fastdl
from fastdl.chapter import cli, cluster, dropout, runner
from fastdl.chapter.backends import get_backend
from fastdl.datasets import mnist

# Small enough that ``all --backend both`` runs in seconds; the science is in test_chapter.py.
TINY = {
    "optimizers": {"iterations": 30, "hidden_size_list": [20]},
    "init": {"iterations": 30, "hidden_size_list": [20]},
    "batchnorm": {"train_size": 200, "hidden_size_list": [20] * 2, "epochs": 2, "weight_scales": 4},
    "gradcheck": {"hidden_size_list": [3, 3]},
    "weight-decay": {"train_size": 100, "hidden_size_list": [20] * 2, "epochs": 3},
    "dropout": {"train_size": 100, "hidden_size_list": [20] * 2, "epochs": 3},
    "search": {"train_size": 100, "hidden_size_list": [20] * 2, "trials": 4, "epochs": 2, "plotted": 4},
    "convnet": {"train_size": 200, "test_size": 100, "epochs": 2, "evaluate_sample_num_per_epoch": 100,
                "hidden_size": 10, "conv_param": {"filter_num": 4, "filter_size": 5, "pad": 0, "stride": 1}},
}


@pytest.fixture
def tiny_settings(monkeypatch):
    for name, changes in TINY.items():
        module = runner.EXPERIMENTS[name]
        monkeypatch.setitem(module.SETTINGS, "quick", {**module.SETTINGS["quick"], **changes})


def test_all_with_both_backends_writes_the_report(tiny_settings, tmp_path, capsys):
    assert cli.main(["all", "--backend", "both", "--out", str(tmp_path), "--workers", "1"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "speed-up" in report and "shipped with fastdl" in report and "8,000 training / 2,000 test" in report
    assert "Interrupted" not in report
    for name in runner.EXPERIMENTS:
        for backend in ("fastdl", "reference"):
            record = json.loads((tmp_path / backend / f"{name}.json").read_text())
            assert record["backend"] == backend and record["seconds"] > 0
            for figure in record["figures"]:
                assert (tmp_path / figure).is_file()
                if backend == "fastdl":
                    assert f"]({figure})" in report
    assert "report: " in capsys.readouterr().out


def test_one_experiment_from_a_data_directory(tiny_settings, tmp_path):
    images = tmp_path / "data"
    images.mkdir()
    # Borrow the tiny IDX writer's format by hand: 20 blank images, labels 0-9 twice.
    header = bytes([0, 0, 8, 3]) + (20).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (images / "t10k-images-idx3-ubyte").write_bytes(header + bytes(20 * 784))
    (images / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (20).to_bytes(4, "big")
                                                    + bytes(list(range(10)) * 2))
    assert cli.main(["gradcheck", "--data", str(images), "--out", str(tmp_path / "out")]) == 0
    record = json.loads((tmp_path / "out" / "fastdl" / "gradcheck.json").read_text())
    assert record["data"]["kind"] == "idx-test-only" and record["data"]["train_size"] == 16


def test_broken_data_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + (5).to_bytes(4, "big"))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + bytes(5))
    assert cli.main(["optimizers", "--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastdl: error:") and "truncated" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["bogus"], "invalid choice"),
    (["paths", "--scale", "huge"], "invalid choice"),
    (["search", "--workers", "0"], "positive integer"),
    (["paths", "--data", "/no/such/folder"], "neither"),
    ([], "required"),
    (["paths", "--seed", "-1"], "from 0 to 2**32 - 1"),
    (["paths", "--seed", str(2**32)], "from 0 to 2**32 - 1"),
    (["paths", "--dask", "local"], "unrecognized arguments: --dask"),
    (["optimizers", "--workers", "2"], "unrecognized arguments: --workers"),
    (["--scale", "huge", "paths"], "invalid choice"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_python_m_fastdl_help(tmp_path):
    # From an empty folder: `python -m` puts the working directory first on
    # sys.path, and from the repository root that is the uncompiled source.
    done = subprocess.run([sys.executable, "-m", "fastdl", "--help"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0
    assert "batchnorm" in done.stdout and "search" in done.stdout and "all" in done.stdout


def test_options_before_the_experiment(tmp_path):
    """``fastdl --scale book all`` was "invalid choice"; an option after the experiment wins."""
    assert cli.main(["--seed", "3", "--out", str(tmp_path), "--scale", "book", "paths"]) == 0
    record = json.loads((tmp_path / "fastdl" / "paths.json").read_text())
    assert (record["seed"], record["scale"]) == (3, "book")
    assert cli.main(["--seed", "3", "--out", str(tmp_path), "paths", "--seed", "4"]) == 0
    assert json.loads((tmp_path / "fastdl" / "paths.json").read_text())["seed"] == 4


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out == f"fastdl {fastdl.__version__}\n"


@pytest.mark.parametrize("command", [*runner.EXPERIMENTS, "all"])
def test_help_is_plain_text(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert "``" not in out and not re.search(r":\w+:`", out)
    assert ("--dask" in out) == (command in ("search", "all"))


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_that_cannot_be_a_folder_is_a_bad_argument(tmp_path, where, capsys):
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" if where == "file" else tmp_path / "file" / "sub"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["paths", "--out", str(out)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "is not a folder" in err and err.count("\n") == 1


def test_unwritable_result_is_one_line_and_exit_1(tmp_path, capsys):
    (tmp_path / "fastdl" / "paths.json").mkdir(parents=True)
    assert cli.main(["paths", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fastdl: error: cannot write") and "paths.json" in err and err.count("\n") == 1


@pytest.mark.parametrize("n_images", [0, 1])
def test_too_few_images_is_one_line_and_exit_1(tmp_path, n_images, capsys):
    header = bytes([0, 0, 8, 3]) + n_images.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(header + bytes(n_images * 784))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + n_images.to_bytes(4, "big")
                                                      + bytes(n_images))
    assert cli.main(["optimizers", "--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "the experiments need at least" in err and err.count("\n") == 1


def test_offline_mnist_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(mnist.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "MIRRORS", ("http://127.0.0.1:9/",))
    assert cli.main(["optimizers", "--data", "mnist", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--data DIR" in err and "$FASTDL_MNIST_DIR" in err and "--data embedded" in err


def test_dropout_progress_label_is_words(monkeypatch):
    labels = []
    monkeypatch.setattr(dropout, "progress", lambda iterable, desc: labels.append(desc) or [])
    data = type("Data", (), {"x_train": np.zeros((4, 784), np.float32), "t_train": np.zeros(4, np.uint8),
                             "x_test": np.zeros((2, 784), np.float32), "t_test": np.zeros(2, np.uint8)})
    for use_dropout in (False, True):
        dropout.train_one(get_backend("fastdl"), data, use_dropout, dropout.SETTINGS["quick"])
    assert labels == ["dropout without Dropout [fastdl]", "dropout with Dropout [fastdl]"]


@pytest.fixture
def silent_port():
    """A port on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()
    for connection, _ in accepted:
        connection.close()


def _closed_port():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return listener.getsockname()[1]


@pytest.mark.parametrize("address", ["closed", "silent", "::::"])
def test_unreachable_dask_scheduler_is_one_line_and_exit_1(address, silent_port, tmp_path, capsys):
    """A closed port took 32.6 s and printed 50 lines; a silent one never returned."""
    pytest.importorskip("distributed")
    address = {"closed": f"tcp://127.0.0.1:{_closed_port()}", "silent": f"tcp://127.0.0.1:{silent_port}"}.get(
        address, address)
    start = time.monotonic()
    assert cli.main(["search", "--dask", address, "--out", str(tmp_path)]) == 1
    assert time.monotonic() - start < 20
    err = capsys.readouterr().err
    assert err.startswith("fastdl: error: cannot reach a Dask scheduler") and err.count("\n") == 1
    assert cluster.CONNECT_TIMEOUT <= 10


# The command prints warnings as one line; pytest's "error" filter would raise them instead.
@pytest.mark.filterwarnings("default::fastdl.datasets.mnist.DataSourceWarning")
def test_a_failed_source_is_a_one_line_warning(tmp_path, monkeypatch, capsys):
    """Cached files that fail their checksum are replaced by a download, said in one line."""
    monkeypatch.delenv(mnist.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    test_set = {name: sha for name, sha in mnist.SHA256.items() if name.startswith("t10k")}
    monkeypatch.setattr(mnist, "SHA256", test_set)  # a mirror of the test set only
    monkeypatch.setattr(mnist, "MIRRORS", (mnist.EMBEDDED_DIR.as_uri() + "/",))
    mnist.cache_dir().mkdir(parents=True)
    for name in test_set:
        (mnist.cache_dir() / name).write_bytes(b"damaged")
    assert cli.main(["gradcheck", "--data", "mnist", "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("fastdl: warning: MNIST: ") and "does not match" in err and err.count("\n") == 1
