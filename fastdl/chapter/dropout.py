"""Overfitting on 300 images, without and with Dropout (trained by ``Trainer``)."""
import numpy as np

from fastdl.chapter.plotting import new_figure, plot_train_test, save_figure
from fastdl.chapter.progress import progress

NAME = "dropout"
TITLE = "Dropout (300 training images)"
NEEDS_MNIST = True
SETTINGS = {
    "quick": {"train_size": 300, "hidden_size_list": [100] * 6, "dropout_ratio": 0.2, "lr": 0.01,
              "batch_size": 100, "epochs": 301},
}
SETTINGS["book"] = SETTINGS["quick"]


def train_one(backend, data, use_dropout, settings):
    """Train with the book's Trainer (SGD); training and test accuracy per epoch."""
    x_train = data.x_train[:settings["train_size"]]
    t_train = data.t_train[:settings["train_size"]]
    network = backend.MultiLayerNetExtend(x_train.shape[1], settings["hidden_size_list"], 10,
                                          use_dropout=use_dropout, dropout_ration=settings["dropout_ratio"])
    trainer = backend.Trainer(network, x_train, t_train, data.x_test, data.t_test,
                              epochs=settings["epochs"], mini_batch_size=settings["batch_size"],
                              optimizer="sgd", optimizer_param={"lr": settings["lr"]}, verbose=False)
    # train_step() one at a time, as train() would, so the bar can follow.
    label = "with Dropout" if use_dropout else "without Dropout"
    for _ in progress(range(trainer.max_iter), desc=f"{NAME} {label} [{backend.name}]"):
        trainer.train_step()
    return [float(a) for a in trainer.train_acc_list], [float(a) for a in trainer.test_acc_list]


def run(backend, data, settings, out_dir, seed=0):
    """One run without and one with Dropout, each from the same seed."""
    runs = []
    for use_dropout in (False, True):
        np.random.seed(seed)
        train_acc, test_acc = train_one(backend, data, use_dropout, settings)
        runs.append({"use_dropout": use_dropout, "train_acc": train_acc, "test_acc": test_acc})
    figure, axes = new_figure(1, 2, size=(10, 4), squeeze=False)
    summary = {}
    for ax, run_ in zip(axes.flat, runs):
        label = f"dropout {settings['dropout_ratio']}" if run_["use_dropout"] else "no dropout"
        plot_train_test(ax, run_["train_acc"], run_["test_acc"], label)
        summary[f"{label}: final train accuracy"] = run_["train_acc"][-1]
        summary[f"{label}: final test accuracy"] = run_["test_acc"][-1]
        summary[f"{label}: gap"] = run_["train_acc"][-1] - run_["test_acc"][-1]
    figure.suptitle(TITLE)
    return {"figures": [save_figure(figure, out_dir, "dropout.png")], "summary": summary, "runs": runs}
