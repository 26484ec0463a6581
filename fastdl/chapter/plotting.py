"""Figure helpers shared by the experiments (matplotlib without pyplot, so Agg)."""
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fastdl.reference import util

MARKERS = ("o", "x", "s", "D", "^", "v")
FINAL_WINDOW = 100  # losses averaged for the "final loss": one mini-batch is noisy
# Sharp on a modern screen: a 6.4 x 4.8 in figure is 960 x 720 pixels.
DPI = 150


def new_figure(rows=1, cols=1, size=(6.4, 4.8), squeeze=True, sharey=False):
    """A figure and its axes (as ``Figure.subplots`` returns them)."""
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=squeeze, sharey=sharey)
    return figure, axes


def save_figure(figure, out_dir, name):
    """Save ``figure`` as ``out_dir/name`` (PNG, 150 dpi) and return the file name."""
    figure.savefig(Path(out_dir) / name, dpi=DPI)
    return name


def smooth_curve(values):
    """The book's ``smooth_curve`` of a loss curve; curves shorter than its window are left as they are."""
    values = np.asarray(values, dtype=float)
    return values if len(values) < 11 else util.smooth_curve(values)


def plot_train_test(ax, train_acc, test_acc, title):
    """The book's train/test accuracy plot: circles for train, squares for test."""
    ax.plot(train_acc, marker="o", markevery=10, label="train")
    ax.plot(test_acc, marker="s", markevery=10, label="test")
    ax.set(xlabel="epochs", ylabel="accuracy", ylim=(0, 1), title=title)
    ax.legend(loc="lower right")


def loss_curves_result(losses, title, top, out_dir, file_name):
    """Plot smoothed training losses (one curve per key of ``losses``) and return the experiment's result.

    The result holds the figure's file name, the mean loss of the last
    ``FINAL_WINDOW`` iterations per curve (as ``summary`` and ``final_loss``)
    and the raw ``losses``.
    """
    figure, ax = new_figure()
    for marker, name in zip(MARKERS, losses):
        ax.plot(smooth_curve(losses[name]), marker=marker, markevery=100, label=name)
    ax.set(xlabel="iterations", ylabel="loss", ylim=(0, top), title=title)
    ax.legend()
    final = {name: float(np.mean(values[-FINAL_WINDOW:])) for name, values in losses.items()}
    return {
        "figures": [save_figure(figure, out_dir, file_name)],
        "summary": {f"{name}: mean loss of last {FINAL_WINDOW} iterations": v for name, v in final.items()},
        "final_loss": final,
        "losses": losses,
    }
