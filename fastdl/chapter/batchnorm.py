"""Batch normalization against none, over 16 initial weight scales."""
import numpy as np

from fastdl.chapter.plotting import new_figure, save_figure
from fastdl.chapter.progress import progress

NAME = "batchnorm"
TITLE = "Training accuracy with and without Batch Normalization"
NEEDS_MNIST = True
SETTINGS = {
    "quick": {"train_size": 1000, "hidden_size_list": [100] * 5, "lr": 0.01, "batch_size": 100,
              "epochs": 10, "weight_scales": 16},
    "book": {"train_size": 1000, "hidden_size_list": [100] * 5, "lr": 0.01, "batch_size": 100,
             "epochs": 20, "weight_scales": 16},
}


def train_pair(backend, x_train, t_train, weight_init_std, settings):
    """Train a network with and one without BN from ``weight_init_std``; accuracies per epoch."""
    input_size = x_train.shape[1]
    bn_network = backend.MultiLayerNetExtend(input_size, settings["hidden_size_list"], 10,
                                             weight_init_std=weight_init_std, use_batchnorm=True)
    network = backend.MultiLayerNet(input_size, settings["hidden_size_list"], 10,
                                    weight_init_std=weight_init_std)
    optimizer = backend.optimizers["SGD"](lr=settings["lr"])
    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / settings["batch_size"], 1)
    accuracies, bn_accuracies = [], []
    i = 0
    while len(accuracies) < settings["epochs"]:
        batch_mask = np.random.choice(train_size, settings["batch_size"])
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        for each in (bn_network, network):
            grads = each.gradient(x_batch, t_batch)
            optimizer.update(each.params, grads)
        if i % iter_per_epoch == 0:
            accuracies.append(float(network.accuracy(x_train, t_train)))
            bn_accuracies.append(float(bn_network.accuracy(x_train, t_train)))
        i += 1
    return bn_accuracies, accuracies


def run(backend, data, settings, out_dir, seed=0):
    """Train both networks at each weight scale in ``logspace(0, -4, weight_scales)``."""
    np.random.seed(seed)
    x_train = data.x_train[:settings["train_size"]]
    t_train = data.t_train[:settings["train_size"]]
    scales = np.logspace(0, -4, num=settings["weight_scales"])
    results = []
    for w in progress(scales, desc=f"{NAME} [{backend.name}]"):
        # Without BN the largest scales diverge to inf/NaN, as in the book; the accuracy shows it.
        with np.errstate(over="ignore", invalid="ignore"):
            bn_acc, acc = train_pair(backend, x_train, t_train, w, settings)
        results.append({"weight_init_std": float(w), "batchnorm": bn_acc, "without": acc})

    cols = 4
    rows = -(-len(results) // cols)
    figure, axes = new_figure(rows, cols, size=(10, 2.2 * rows), squeeze=False)
    for i, (ax, result) in enumerate(zip(axes.flat, results)):
        ax.plot(result["batchnorm"], label="Batch Normalization", markevery=2)
        ax.plot(result["without"], linestyle="--", label="Normal (without BatchNorm)", markevery=2)
        ax.set(title=f"W: {result['weight_init_std']:.3g}", ylim=(0, 1))
        if i % cols:
            ax.set_yticks([])
        else:
            ax.set_ylabel("accuracy")
        if i < len(results) - cols:
            ax.set_xticks([])
        else:
            ax.set_xlabel("epochs")
    axes.flat[len(results) - 1].legend(loc="lower right", fontsize=7)
    figure.suptitle(TITLE)
    bn_wins = sum(r["batchnorm"][-1] > r["without"][-1] for r in results)
    return {
        "figures": [save_figure(figure, out_dir, "batchnorm.png")],
        "summary": {
            "weight scales where BN ends ahead": f"{bn_wins} of {len(results)}",
            "mean final training accuracy with BN": float(np.mean([r["batchnorm"][-1] for r in results])),
            "mean final training accuracy without BN": float(np.mean([r["without"][-1] for r in results])),
        },
        "bn_wins": int(bn_wins),
        "runs": results,
    }
