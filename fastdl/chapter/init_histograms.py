"""Histograms of hidden-layer activations for several initial weight scales."""
import numpy as np

from fastdl.chapter.plotting import new_figure, save_figure

NAME = "init-histograms"
TITLE = "Activations of 5 hidden layers"
NEEDS_MNIST = False
# Activation and the histogram range; None: from 0 to the largest value in the figure (ReLU is unbounded).
ACTIVATIONS = {
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (0, 1)),
    "tanh": (np.tanh, (-1, 1)),
    "relu": (lambda x: np.maximum(0, x), None),
}
# (activation, label, std as a function of the number of inputs), the book's figures' order.
CONFIGS = [
    ("sigmoid", "std=1", lambda n: 1.0),
    ("sigmoid", "std=0.01", lambda n: 0.01),
    ("sigmoid", "Xavier", lambda n: np.sqrt(1.0 / n)),
    ("tanh", "Xavier", lambda n: np.sqrt(1.0 / n)),
    ("relu", "std=0.01", lambda n: 0.01),
    ("relu", "Xavier", lambda n: np.sqrt(1.0 / n)),
    ("relu", "He", lambda n: np.sqrt(2.0 / n)),
]
SETTINGS = {"quick": {"samples": 1000, "node_num": 100, "hidden_layer_size": 5, "bins": 30}}
SETTINGS["book"] = SETTINGS["quick"]


def run(backend, data, settings, out_dir, seed=0):
    """Push Gaussian input through each configuration; one histogram per layer.

    ReLU's exact zeros (about half of all values) are left out of its
    histograms, and each panel says what share they were: counted, the zero
    bin would set the y-scale and flatten the rest, which is the difference
    between Xavier and He the figure exists for.
    """
    np.random.seed(seed)
    node_num, layers = settings["node_num"], settings["hidden_layer_size"]
    x = np.random.randn(settings["samples"], node_num)
    stats, figures = {}, []
    for activation, (function, value_range) in ACTIVATIONS.items():
        rows = []
        for _, label, std in (config for config in CONFIGS if config[0] == activation):
            z, outputs = x, []
            for layer in range(layers):
                w = np.random.randn(node_num, node_num) * std(node_num)
                z = function(z @ w)
                outputs.append(z)
                stats[f"{activation} {label} layer {layer + 1}"] = {"mean": float(z.mean()), "std": float(z.std())}
            rows.append((label, outputs))
        figures.append(plot_histograms(activation, rows, value_range, settings["bins"], out_dir))
    summary = {f"{activation} {label}: std of layer {layers} activations":
               stats[f"{activation} {label} layer {layers}"]["std"]
               for activation, label, _ in CONFIGS}
    return {"figures": figures, "summary": summary, "activation_stats": stats}


def plot_histograms(activation, rows, value_range, bins, out_dir):
    """One row per configuration, one histogram per layer; ReLU without its zeros (see :func:`run`)."""
    drop_zeros = value_range is None
    if drop_zeros:
        value_range = (0, max(float(z.max()) for _, outputs in rows for z in outputs))
    layers = len(rows[0][1])
    figure, axes = new_figure(len(rows), layers, size=(2.2 * layers, 2.0 * len(rows)), squeeze=False,
                              sharey="row")
    for row, (label, outputs) in enumerate(rows):
        for layer, z in enumerate(outputs):
            ax = axes[row, layer]
            title = f"{label}: layer {layer + 1}"
            if drop_zeros:
                title += f"\n{np.mean(z == 0):.0%} zeros not shown"
                z = z[z != 0]
            counts, edges = np.histogram(z, bins, range=value_range)
            ax.stairs(counts, edges, fill=True)
            ax.set_title(title, fontsize=8)
    note = "; exact zeros left out, x-axis to the largest value" if drop_zeros else ""
    figure.suptitle(f"{TITLE} ({activation}{note})")
    return save_figure(figure, out_dir, f"init-histograms_{activation}.png")
