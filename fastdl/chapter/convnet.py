"""Chapter 7: SimpleConvNet trained with Adam on MNIST images, and its learned filters.

The book's ``ch07/train_convnet.py`` (accuracy per epoch) and
``ch07/visualize_filter.py`` (the 30 first-layer filters before and after
training) in one experiment.
"""
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fastdl.chapter.plotting import new_figure, plot_train_test, save_figure
from fastdl.chapter.progress import progress

NAME = "convnet"
TITLE = "SimpleConvNet on MNIST (chapter 7): accuracy and learned filters"
NEEDS_MNIST = True
# The book's train_convnet.py; train_size/test_size None: every image the
# data source has (the book trains on 60,000).
_BOOK = {
    "train_size": None, "test_size": None, "epochs": 20, "batch_size": 100, "lr": 0.001,
    "evaluate_sample_num_per_epoch": 1000, "hidden_size": 100, "weight_init_std": 0.01,
    "conv_param": {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
}
SETTINGS = {
    "quick": {**_BOOK, "train_size": 3000, "test_size": 1000, "epochs": 5},
    "book": _BOOK,
}
FILTER_COLUMNS = 8  # as the book's filter_show(filters, nx=8)


def build_network(backend, input_dim, settings):
    """The book's ``SimpleConvNet`` for ``input_dim`` with ``settings``' layer sizes."""
    return backend.SimpleConvNet(input_dim=input_dim, conv_param=dict(settings["conv_param"]),
                                 hidden_size=settings["hidden_size"], output_size=10,
                                 weight_init_std=settings["weight_init_std"])


def train(backend, network, x_train, t_train, x_test, t_test, settings):
    """Train ``network`` with the book's ``Trainer`` and Adam; return the trainer.

    Its ``train_acc_list`` and ``test_acc_list`` hold one accuracy per epoch,
    on the first ``evaluate_sample_num_per_epoch`` images.
    """
    trainer = backend.Trainer(network, x_train, t_train, x_test, t_test,
                              epochs=settings["epochs"], mini_batch_size=settings["batch_size"],
                              optimizer="Adam", optimizer_param={"lr": settings["lr"]},
                              evaluate_sample_num_per_epoch=settings["evaluate_sample_num_per_epoch"],
                              verbose=False)
    # train_step() one at a time, as train() would, so the bar can follow.
    for _ in progress(range(trainer.max_iter), desc=f"{NAME} [{backend.name}]"):
        trainer.train_step()
    return trainer


def plot_filters(figure, filters, title):
    """The book's ``filter_show``: each filter's first channel in grey, dark for large weights."""
    rows = -(-len(filters) // FILTER_COLUMNS)
    axes = figure.subplots(rows, FILTER_COLUMNS, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, kernel in zip(axes.flat, filters):
        ax.imshow(kernel[0], cmap="gray_r", interpolation="nearest")
    figure.suptitle(title)


def run(backend, data, settings, out_dir, seed=0):
    """Train from ``seed``; plot accuracy per epoch and the filters before and after training."""
    np.random.seed(seed)
    # The loader's rows of 784 pixels as the book's load_mnist(flatten=False) gives them.
    x_train = data.x_train[:settings["train_size"]].reshape(-1, 1, 28, 28)
    t_train = data.t_train[:settings["train_size"]]
    x_test = data.x_test[:settings["test_size"]].reshape(-1, 1, 28, 28)
    t_test = data.t_test[:settings["test_size"]]
    network = build_network(backend, x_train.shape[1:], settings)
    initial_filters = network.params["W1"].copy()  # Adam updates W1 in place
    trainer = train(backend, network, x_train, t_train, x_test, t_test, settings)
    train_acc = [float(a) for a in trainer.train_acc_list]
    test_acc = [float(a) for a in trainer.test_acc_list]
    final_test_acc = float(network.accuracy(x_test, t_test))

    accuracy_figure, ax = new_figure()
    plot_train_test(ax, train_acc, test_acc, TITLE.split(":")[0])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    filter_figure = Figure(figsize=(8, 5.5), layout="constrained")
    before, after = filter_figure.subfigures(2, 1)
    plot_filters(before, initial_filters, "before training (random)")
    plot_filters(after, network.params["W1"], "after training")
    evaluated = settings["evaluate_sample_num_per_epoch"]
    return {
        "figures": [save_figure(accuracy_figure, out_dir, "convnet.png"),
                    save_figure(filter_figure, out_dir, "convnet-filters.png")],
        "summary": {
            "training images": int(x_train.shape[0]),
            "iterations": int(trainer.max_iter),
            f"final train accuracy (first {evaluated} images)": train_acc[-1],
            f"final test accuracy (first {evaluated} images)": test_acc[-1],
            f"test accuracy ({x_test.shape[0]} images, after training)": final_test_acc,
        },
        "note": ("Accuracies are measured at the start of each epoch, as the book's Trainer does. "
                 "The first layer's 30 filters start as noise and learn edge and blob detectors "
                 "(dark: large weights), as in the book's figure of learned filters."),
        "train_acc": train_acc,
        "test_acc": test_acc,
        "final_test_acc": final_test_acc,
        "filters_before": initial_filters,
        "filters_after": network.params["W1"].copy(),
    }
