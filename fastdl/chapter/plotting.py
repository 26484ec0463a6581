"""Figure helpers shared by the experiments (matplotlib without pyplot, so Agg)."""
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fastdl.reference import util

MARKERS = ("o", "x", "s", "D", "^", "v")
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
