"""SGD, Momentum, AdaGrad and Adam training the same network on MNIST."""
import numpy as np

from fastdl.chapter.plotting import MARKERS, new_figure, save_figure, smooth_curve
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
FINAL_WINDOW = 100  # losses averaged for the "final loss": one mini-batch is noisy


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

    figure, ax = new_figure()
    for marker, name in zip(MARKERS, names):
        ax.plot(smooth_curve(losses[name]), marker=marker, markevery=100, label=name)
    ax.set(xlabel="iterations", ylabel="loss", ylim=(0, 1), title=TITLE)
    ax.legend()
    final = {name: float(np.mean(values[-FINAL_WINDOW:])) for name, values in losses.items()}
    return {
        "figures": [save_figure(figure, out_dir, "optimizers.png")],
        "summary": {f"{name}: mean loss of last {FINAL_WINDOW} iterations": v for name, v in final.items()},
        "final_loss": final,
        "losses": losses,
    }
