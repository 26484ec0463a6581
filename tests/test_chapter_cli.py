"""The ``fastdl`` command: subcommands, report, and one-line errors."""
import json
import subprocess
import sys

import pytest

from fastdl.chapter import cli, runner

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
    pytest.importorskip("mlxtend")
    assert cli.main(["all", "--backend", "both", "--out", str(tmp_path), "--workers", "1"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "speed-up" in report and "mlxtend" in report and "4,000 training / 1,000 test" in report
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
