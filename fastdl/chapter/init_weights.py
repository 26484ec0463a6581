"""Initial weights on MNIST: std 0.01 against Xavier and He."""
import numpy as np

from fastdl.chapter.plotting import loss_curves_result
from fastdl.chapter.progress import progress

NAME = "init"
TITLE = "Initial weights on MNIST: training loss (SGD)"
NEEDS_MNIST = True
WEIGHT_INIT_TYPES = {"std=0.01": 0.01, "Xavier": "sigmoid", "He": "relu"}
SETTINGS = {
    "quick": {"hidden_size_list": [100] * 4, "batch_size": 128, "iterations": 500, "lr": 0.01},
    "book": {"hidden_size_list": [100] * 4, "batch_size": 128, "iterations": 2000, "lr": 0.01},
}


def run(backend, data, settings, out_dir, seed=0):
    """Train a ReLU network from each initial weight scale with SGD; plot smoothed losses."""
    np.random.seed(seed)
    networks = {name: backend.MultiLayerNet(data.x_train.shape[1], settings["hidden_size_list"], 10,
                                            weight_init_std=std)
                for name, std in WEIGHT_INIT_TYPES.items()}
    optimizer = backend.optimizers["SGD"](lr=settings["lr"])
    losses = {name: [] for name in WEIGHT_INIT_TYPES}
    train_size = data.x_train.shape[0]
    for _ in progress(range(settings["iterations"]), desc=f"{NAME} [{backend.name}]"):
        batch_mask = np.random.choice(train_size, settings["batch_size"])
        x_batch, t_batch = data.x_train[batch_mask], data.t_train[batch_mask]
        for name, network in networks.items():
            grads = network.gradient(x_batch, t_batch)
            optimizer.update(network.params, grads)
            losses[name].append(float(network.loss(x_batch, t_batch)))

    return loss_curves_result(losses, TITLE, 2.5, out_dir, "init.png")
