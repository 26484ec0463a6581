"""Overfitting on 300 images, without and with weight decay."""
import numpy as np

from fastdl.chapter.plotting import new_figure, plot_train_test, save_figure
from fastdl.chapter.progress import progress

NAME = "weight-decay"
TITLE = "Overfitting and weight decay (300 training images)"
NEEDS_MNIST = True
SETTINGS = {
    "quick": {"train_size": 300, "hidden_size_list": [100] * 6, "lr": 0.01, "batch_size": 100,
              "epochs": 201, "weight_decay_lambdas": [0, 0.1]},
}
SETTINGS["book"] = SETTINGS["quick"]


def train_one(backend, data, weight_decay_lambda, settings):
    """Train with SGD; training and test accuracy once per epoch."""
    x_train = data.x_train[:settings["train_size"]]
    t_train = data.t_train[:settings["train_size"]]
    network = backend.MultiLayerNet(x_train.shape[1], settings["hidden_size_list"], 10,
                                    weight_decay_lambda=weight_decay_lambda)
    optimizer = backend.optimizers["SGD"](lr=settings["lr"])
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / settings["batch_size"], 1)
    train_acc, test_acc = [], []
    bar = progress(total=settings["epochs"], desc=f"{NAME} λ={weight_decay_lambda} [{backend.name}]")
    i = 0
    while len(train_acc) < settings["epochs"]:
        batch_mask = np.random.choice(train_size, settings["batch_size"])
        grads = network.gradient(x_train[batch_mask], t_train[batch_mask])
        optimizer.update(network.params, grads)
        if i % iter_per_epoch == 0:
            train_acc.append(float(network.accuracy(x_train, t_train)))
            test_acc.append(float(network.accuracy(data.x_test, data.t_test)))
            bar.update()
        i += 1
    bar.close()
    return train_acc, test_acc


def run(backend, data, settings, out_dir, seed=0):
    """One training run per weight-decay lambda, each from the same seed."""
    runs = []
    for weight_decay_lambda in settings["weight_decay_lambdas"]:
        np.random.seed(seed)
        train_acc, test_acc = train_one(backend, data, weight_decay_lambda, settings)
        runs.append({"weight_decay_lambda": weight_decay_lambda, "train_acc": train_acc, "test_acc": test_acc})
    figure, axes = new_figure(1, len(runs), size=(5 * len(runs), 4), squeeze=False)
    summary = {}
    for ax, run_ in zip(axes.flat, runs):
        label = f"λ = {run_['weight_decay_lambda']}"
        plot_train_test(ax, run_["train_acc"], run_["test_acc"], f"weight decay {label}")
        summary[f"{label}: final train accuracy"] = run_["train_acc"][-1]
        summary[f"{label}: final test accuracy"] = run_["test_acc"][-1]
        summary[f"{label}: gap"] = run_["train_acc"][-1] - run_["test_acc"][-1]
    figure.suptitle(TITLE)
    return {"figures": [save_figure(figure, out_dir, "weight-decay.png")], "summary": summary, "runs": runs}

