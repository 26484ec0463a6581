"""Each experiment's conclusion, on fixed seeds and real (embedded) MNIST.

Settings are smaller than ``--scale quick`` to keep the tests fast; the
conclusions must already be visible at this size.
"""
import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastdl.chapter import (
    batchnorm, dropout, gradcheck, init_histograms, init_weights, optimizers, paths, weight_decay,
)
from fastdl.chapter.backends import get_backend
from fastdl.chapter.runner import run_experiment


@pytest.fixture(autouse=True)
def _one_thread():
    """As the CLI does by default: one BLAS thread, steady on a busy machine."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def data():
    from fastdl.chapter.data import load_chapter_data
    return load_chapter_data("embedded", verbose=False)


@pytest.fixture(scope="module")
def backend():
    return get_backend("fastdl")


def quick(module, **changes):
    return {**module.SETTINGS["quick"], **changes}


def test_paths_approach_the_minimum(backend, tmp_path):
    result = paths.run(backend, None, paths.SETTINGS["quick"], tmp_path)
    start = paths.f(*paths.SETTINGS["quick"]["start"])
    assert all(path[-1] != path[0] for path in result["paths"].values())
    assert all(value < start / 10 for value in result["summary"].values())
    assert (tmp_path / "paths.png").stat().st_size > 10_000


def test_adaptive_optimizers_and_momentum_beat_sgd(backend, data, tmp_path):
    result = optimizers.run(backend, data, quick(optimizers, iterations=200, hidden_size_list=[50] * 2), tmp_path)
    final = result["final_loss"]
    for name in ("Momentum", "AdaGrad", "Adam"):
        assert final[name] < 0.8 * final["SGD"], final


def test_xavier_and_he_beat_std_001(backend, data, tmp_path):
    result = init_weights.run(backend, data, quick(init_weights, iterations=400), tmp_path)
    final = result["final_loss"]
    assert final["std=0.01"] > 2.2  # stuck at log(10): the signal vanishes
    assert final["He"] < final["Xavier"] < final["std=0.01"] - 0.3, final


def test_activation_histograms(backend, tmp_path):
    result = init_histograms.run(backend, None, init_histograms.SETTINGS["quick"], tmp_path)
    stats = result["activation_stats"]
    assert stats["sigmoid std=0.01 layer 5"]["std"] < 0.05  # all activations near 0.5
    assert stats["relu std=0.01 layer 5"]["std"] < 1e-4  # ReLU activations vanish
    assert stats["relu He layer 5"]["std"] > 2 * stats["relu Xavier layer 5"]["std"]
    assert len(result["figures"]) == 3
    height, width = matplotlib.image.imread(tmp_path / "init-histograms_relu.png").shape[:2]
    assert width >= 1500 and height >= 900  # 11 x 6 inches at 150 dpi


def test_relu_histograms_leave_out_the_zeros_and_cut_nothing(tmp_path, monkeypatch):
    """The zero bin (half of all values) hid the rest; values above 1 were cut silently."""
    figures = []
    monkeypatch.setattr(init_histograms, "save_figure", lambda figure, out_dir, name: figures.append(figure))
    rng = np.random.default_rng(0)
    outputs = [np.maximum(0, rng.normal(0, 2, (100, 10))) for _ in range(2)]
    init_histograms.plot_histograms("relu", [("He", outputs)], None, 30, tmp_path)
    axes = figures[0].axes
    for ax, z in zip(axes, outputs):
        counts = ax.patches[0].get_data().values
        assert counts.sum() == np.count_nonzero(z)  # every non-zero value, none beyond the range
        assert f"{np.mean(z == 0):.0%} zeros not shown" in ax.get_title()
    assert "zeros left out" in figures[0].get_suptitle()


def test_batchnorm_ahead_at_most_weight_scales(backend, data, tmp_path):
    result = batchnorm.run(backend, data, quick(batchnorm, train_size=500, epochs=6, weight_scales=6), tmp_path)
    assert result["bn_wins"] >= 5, result["summary"]


def test_gradcheck_agrees_except_at_the_relu_kink(backend, data, tmp_path):
    result = gradcheck.run(backend, data, quick(gradcheck, hidden_size_list=[4, 4]), tmp_path)
    assert max(result["differences"]["3"].values()) < 1e-5
    assert result["summary"]["1 sample(s): at"] == "beta2"


def test_weight_decay_shrinks_the_gap(backend, data, tmp_path):
    result = weight_decay.run(backend, data, quick(weight_decay, epochs=121), tmp_path)
    without, with_decay = result["runs"]
    gap = [run["train_acc"][-1] - run["test_acc"][-1] for run in (without, with_decay)]
    assert without["train_acc"][-1] > 0.95
    assert gap[0] > 0.15 and gap[1] < gap[0], gap


def test_dropout_narrows_the_gap(backend, data, tmp_path):
    result = dropout.run(backend, data, quick(dropout, epochs=121), tmp_path)
    without, with_dropout = result["runs"]
    gap = [run["train_acc"][-1] - run["test_acc"][-1] for run in (without, with_dropout)]
    assert gap[1] < gap[0] - 0.03, gap


def test_runner_records_source_time_and_figures(data, tmp_path, monkeypatch):
    monkeypatch.setitem(gradcheck.SETTINGS, "quick", quick(gradcheck, hidden_size_list=[4, 4]))
    record = run_experiment("gradcheck", "reference", "quick", data, tmp_path)
    saved = json.loads((tmp_path / "reference" / "gradcheck.json").read_text())
    assert saved["data"]["kind"] == "embedded" and saved["data"]["train_size"] == 8000
    assert saved["seconds"] == record["seconds"] > 0
    assert all(Path(tmp_path, figure).is_file() for figure in saved["figures"])


def test_an_experiment_is_repeatable(backend, data, tmp_path):
    settings = quick(optimizers, iterations=20, hidden_size_list=[20])
    first = optimizers.run(backend, data, settings, tmp_path, seed=7)
    np.random.seed(1)
    second = optimizers.run(backend, data, settings, tmp_path, seed=7)
    assert first["losses"] == second["losses"]
