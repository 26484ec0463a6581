"""Gradient check of the network with Batch Normalization: backprop against differences.

The book checks one sample. Then every batch-normalized value is exactly its
``beta`` (0), so each ReLU sits on its kink, where central differences see half
a slope and backprop none: the last hidden layer's ``beta`` disagrees by design.
A second check with a few samples, where BN is not degenerate, shows that the
backprop gradient itself is right.
"""
import numpy as np

from fastdl.chapter.plotting import new_figure, save_figure

NAME = "gradcheck"
TITLE = "Backprop vs numerical gradient (network with BN)"
NEEDS_MNIST = True
# The numerical gradient costs two forward passes per parameter: the quick scale
# checks the same architecture with 10 instead of 100 units per hidden layer.
SETTINGS = {
    "quick": {"hidden_size_list": [10, 10], "sample_counts": [1, 3]},
    "book": {"hidden_size_list": [100, 100], "sample_counts": [1, 3]},
}


def mean_abs_differences(backend, x_batch, t_batch, hidden_size_list):
    """Mean ``|backprop - numerical|`` per parameter of a fresh BN network."""
    network = backend.MultiLayerNetExtend(x_batch.shape[1], hidden_size_list, 10, use_batchnorm=True)
    grad_backprop = network.gradient(x_batch, t_batch)
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    return {key: float(np.mean(np.abs(grad_backprop[key] - grad_numerical[key]))) for key in grad_numerical}


def run(backend, data, settings, out_dir, seed=0):
    """Check with each number of samples in ``sample_counts``; one bar per parameter."""
    differences = {}
    for count in settings["sample_counts"]:
        np.random.seed(seed)
        differences[count] = mean_abs_differences(backend, data.x_train[:count], data.t_train[:count],
                                                   settings["hidden_size_list"])

    figure, ax = new_figure(size=(8, 4))
    keys = list(differences[settings["sample_counts"][0]])
    width = 0.8 / len(differences)
    for i, (count, per_key) in enumerate(differences.items()):
        # A difference of exactly 0 has no logarithm: draw it at the floor.
        ax.bar(np.arange(len(keys)) + i * width, [max(per_key[key], 1e-16) for key in keys], width,
               label=f"{count} sample{'s' * (count > 1)}")
    ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, keys, rotation=45)
    ax.set(yscale="log", ylim=(1e-16, 1), ylabel="mean |backprop - numerical|", title=TITLE)
    ax.legend()
    summary = {}
    for count, per_key in differences.items():
        worst = max(per_key, key=per_key.get)
        summary[f"{count} sample(s): largest mean abs difference"] = per_key[worst]
        summary[f"{count} sample(s): at"] = worst
    note = ("With one sample every batch-normalized value equals beta (0), so the ReLUs sit on their kink: "
            "central differences see half a slope there, backprop none. With several samples the two agree.")
    return {"figures": [save_figure(figure, out_dir, "gradcheck.png")], "summary": summary, "note": note,
            "differences": {str(count): per_key for count, per_key in differences.items()}}
