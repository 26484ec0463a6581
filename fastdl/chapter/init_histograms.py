"""Histograms of hidden-layer activations for several initial weight scales."""
import numpy as np

from fastdl.chapter.plotting import new_figure, save_figure

NAME = "init-histograms"
TITLE = "Activations of 5 hidden layers"
NEEDS_MNIST = False
ACTIVATIONS = {
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (0, 1)),
    "tanh": (np.tanh, (-1, 1)),
    "relu": (lambda x: np.maximum(0, x), (0, 1)),
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
    """Push Gaussian input through each configuration; one histogram per layer."""
    np.random.seed(seed)
    node_num, layers = settings["node_num"], settings["hidden_layer_size"]
    x = np.random.randn(settings["samples"], node_num)
    stats, figures = {}, []
    for activation in ACTIVATIONS:
        configs = [(label, std) for name, label, std in CONFIGS if name == activation]
        function, value_range = ACTIVATIONS[activation]
        figure, axes = new_figure(len(configs), layers, size=(2.2 * layers, 2.0 * len(configs)),
                                    squeeze=False)
        for row, (label, std) in enumerate(configs):
            z = x
            for layer in range(layers):
                w = np.random.randn(node_num, node_num) * std(node_num)
                z = function(z @ w)
                ax = axes[row, layer]
                counts, edges = np.histogram(z, settings["bins"], range=value_range)
                ax.stairs(counts, edges, fill=True)
                ax.set_title(f"{label}: layer {layer + 1}", fontsize=9)
                if layer:
                    ax.set_yticks([])
                stats[f"{activation} {label} layer {layer + 1}"] = {
                    "mean": float(z.mean()), "std": float(z.std())}
        figure.suptitle(f"{TITLE} ({activation})")
        figures.append(save_figure(figure, out_dir, f"init-histograms_{activation}.png"))
    summary = {f"{activation} {label}: std of layer {layers} activations":
               stats[f"{activation} {label} layer {layers}"]["std"]
               for activation, label, _ in CONFIGS}
    return {"figures": figures, "summary": summary, "activation_stats": stats}
