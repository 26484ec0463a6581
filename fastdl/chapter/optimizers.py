"""SGD, Momentum, AdaGrad and Adam training the same network on MNIST."""
import numpy as np

from fastdl.chapter.plotting import loss_curves_result
from fastdl.chapter.progress import progress

NAME = "optimizers"
TITLE = "Optimizers on MNIST: training loss"
NEEDS_MNIST = True
SETTINGS = {
    "quick": {"hidden_size_list": [100] * 4, "batch_size": 128, "iterations": 500,
              "optimizers": ["SGD", "Momentum", "AdaGrad", "Adam"]},
    "book": {"hidden_size_list": [100] * 4, "batch_size": 128, "iterations": 2000,
             "optimizers": ["SGD", "Momentum", "AdaGrad", "Adam"]},
}


def run(backend, data, settings, out_dir, seed=0):
    """Train one network per optimizer on the same mini-batches; plot smoothed losses."""
    np.random.seed(seed)
    names = settings["optimizers"]
    networks = {name: backend.MultiLayerNet(data.x_train.shape[1], settings["hidden_size_list"], 10)
                for name in names}
    optimizers = {name: backend.optimizers[name]() for name in names}
    losses = {name: [] for name in names}
    train_size = data.x_train.shape[0]
    for _ in progress(range(settings["iterations"]), desc=f"{NAME} [{backend.name}]"):
        batch_mask = np.random.choice(train_size, settings["batch_size"])
        x_batch, t_batch = data.x_train[batch_mask], data.t_train[batch_mask]
        for name in names:
            grads = networks[name].gradient(x_batch, t_batch)
            optimizers[name].update(networks[name].params, grads)
            losses[name].append(float(networks[name].loss(x_batch, t_batch)))

    return loss_curves_result(losses, TITLE, 1, out_dir, "optimizers.png")
