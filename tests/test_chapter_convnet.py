"""``fastdl convnet``: chapter 7's SimpleConvNet experiment, at a tiny scale.

The images are synthetic (a bright square whose position is the label, on
noise), so the test needs no data download and a small network learns them
in a few dozen steps.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastdl.chapter import convnet
from fastdl.chapter.backends import get_backend
from fastdl.chapter.cli import build_parser
from fastdl.chapter.data import ChapterData
from fastdl.chapter.runner import EXPERIMENTS
from fastdl.datasets import MnistSource

TINY = {**convnet.SETTINGS["quick"], "train_size": 400, "test_size": 200, "epochs": 3, "batch_size": 50, "lr": 0.005,
        "evaluate_sample_num_per_epoch": 200, "hidden_size": 20,
        "conv_param": {"filter_num": 8, "filter_size": 5, "pad": 0, "stride": 1}}


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def squares(n, rng):
    """Flattened float32 28x28 images: noise plus a 6x6 square at one of 10 places, the label."""
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.random((n, 28, 28), dtype=np.float32) * 0.3
    for image, label in zip(images, labels):
        y, x = 3 + 12 * (label // 5), 1 + 5 * (label % 5)
        image[y:y + 6, x:x + 6] = 1.0
    return images.reshape(n, 784), labels


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    (x_train, t_train), (x_test, t_test) = squares(400, rng), squares(200, rng)
    source = MnistSource("synthetic", "tests", "squares on noise", 400, 200)
    return ChapterData(x_train, t_train, x_test, t_test, source)


@pytest.fixture(scope="module")
def results(data, tmp_path_factory):
    """Each backend's result, from the same seed, and the folder of its figures."""
    results = {}
    for name in ("reference", "fastdl"):
        out = tmp_path_factory.mktemp(name)
        results[name] = {**convnet.run(get_backend(name), data, TINY, out), "out": out}
    return results


def test_it_learns_and_records_one_accuracy_per_epoch(results):
    result = results["fastdl"]
    assert len(result["train_acc"]) == len(result["test_acc"]) == TINY["epochs"]
    assert result["summary"]["iterations"] == TINY["epochs"] * TINY["train_size"] // TINY["batch_size"]
    assert result["test_acc"][0] < 0.3
    assert result["final_test_acc"] > 0.9


def test_the_filters_before_and_after_training_are_drawn(results):
    result = results["fastdl"]
    before, after = result["filters_before"], result["filters_after"]
    assert before.shape == after.shape == (8, 1, 5, 5)
    assert not np.array_equal(before, after)
    assert result["figures"] == ["convnet.png", "convnet-filters.png"]
    assert all((result["out"] / figure).stat().st_size > 10_000 for figure in result["figures"])


def test_fastdl_gives_the_reference_numbers(results):
    reference, fast = results["reference"], results["fastdl"]
    assert fast["summary"] == reference["summary"]
    assert fast["train_acc"] == reference["train_acc"] and fast["test_acc"] == reference["test_acc"]
    assert np.array_equal(fast["filters_after"], reference["filters_after"])


def test_it_is_a_command_and_part_of_all():
    assert EXPERIMENTS["convnet"] is convnet
    args = build_parser().parse_args(["convnet", "--backend", "both", "--scale", "book"])
    assert (args.command, args.backend, args.scale) == ("convnet", "both", "book")
    assert convnet.SETTINGS["book"]["epochs"] == 20 and convnet.SETTINGS["book"]["train_size"] is None
