"""Update paths of SGD, Momentum, AdaGrad and Adam on f(x, y) = x**2/20 + y**2."""
import numpy as np

from fastdl.chapter.plotting import new_figure, save_figure

NAME = "paths"
TITLE = "Update paths on f(x, y) = x²/20 + y²"
NEEDS_MNIST = False
SETTINGS = {
    "quick": {"start": (-7.0, 2.0), "steps": 30,
              "learning_rates": {"SGD": 0.95, "Momentum": 0.1, "AdaGrad": 1.5, "Adam": 0.3}},
}
SETTINGS["book"] = SETTINGS["quick"]


def f(x, y):
    """The bowl the book descends: stretched 20-fold along x."""
    return x ** 2 / 20.0 + y ** 2


def df(x, y):
    """Gradient of :func:`f`."""
    return x / 10.0, 2.0 * y


def run(backend, data, settings, out_dir, seed=0):
    """Follow each optimizer for ``steps`` updates from ``start``; plot the paths."""
    paths = {}
    for name, lr in settings["learning_rates"].items():
        optimizer = backend.optimizers[name](lr=lr)
        params = {"x": settings["start"][0], "y": settings["start"][1]}
        path = []
        for _ in range(settings["steps"]):
            path.append((float(params["x"]), float(params["y"])))
            gx, gy = df(params["x"], params["y"])
            optimizer.update(params, {"x": gx, "y": gy})
        paths[name] = path

    figure, axes = new_figure(2, 2, size=(9, 6))
    grid_x, grid_y = np.meshgrid(np.arange(-10, 10, 0.05), np.arange(-5, 5, 0.05))
    levels = f(grid_x, grid_y)
    levels[levels > 7] = 0
    for ax, (name, path) in zip(axes.flat, paths.items()):
        xs, ys = np.array(path).T
        ax.contour(grid_x, grid_y, levels)
        ax.plot(xs, ys, "o-", color="red", markersize=3)
        ax.plot(0, 0, "+", color="black", markersize=10)
        ax.set(xlim=(-10, 10), ylim=(-10, 10), xlabel="x", ylabel="y",
               title=f"{name} (lr={settings['learning_rates'][name]})")
    figure.suptitle(TITLE)
    final = {name: {"x": path[-1][0], "y": path[-1][1], "f": f(*path[-1])} for name, path in paths.items()}
    return {
        "figures": [save_figure(figure, out_dir, "paths.png")],
        "summary": {f"{name}: f after {settings['steps']} steps": v["f"] for name, v in final.items()},
        "paths": paths,
    }
