"""Fast mode's training step against the book's, interleaved in one process, one thread.

Run::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD \\
        python bench/bench_fast.py [--book BOOK_DIR] [--rounds 15] [--accuracy] [--threads N]

One step is ``gradient`` + ``Adam.update`` at batch 100 on MNIST-shaped
float32 input, as in the book's training scripts, of SimpleConvNet,
DeepConvNet and (``--nets MultiLayerNetExtend``) chapter 6's BN+Dropout
``MultiLayerNetExtend(784, [100]*5, 10)``. Each round runs every
implementation once, in turn, so that a drift of the machine's load hits
them alike; the table gives each one's median and the median of its per-round
ratios to the book. ``BOOK_DIR`` is a checkout of
oreilly-japan/deep-learning-from-scratch (its ``common``, ``ch07``, ``ch08``):
the book's own classes are then the baseline; without it, fastdl's NumPy
reference (the same operations) stands in. torch joins as a peer where it
imports. ``--accuracy`` also trains, on the embedded MNIST split (8,000
training and 2,000 test images), the book's SimpleConvNet for 300 Adam steps
and DeepConvNet for one epoch (80 steps), in exact mode and in fast
float64/float32 (DeepConvNet also in exact float32, which shows how far
float32 arithmetic alone moves that short a training), and prints the test
accuracies.
"""
import argparse
import functools
import os
import statistics
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastdl
from fastdl import nets, reference
from fastdl.datasets import load_mnist
from fastdl.optim import Adam
from tests.training import accuracy_after_training

try:
    import torch
except ImportError:
    torch = None


# Chapter 6's BN+Dropout network, as bench_layers.py and bench_threads.py time it: its arguments.
MLP = "MultiLayerNetExtend"
MLP_ARGS = (784, [100] * 5, 10)
MLP_OPTIONS = {"use_batchnorm": True, "use_dropout": True}


def book_classes(book_dir):
    """``{net name: class}`` and ``Adam`` of the book's checkout, or fastdl's reference."""
    if book_dir is None:
        return {"SimpleConvNet": reference.SimpleConvNet, "DeepConvNet": reference.DeepConvNet,
                MLP: reference.MultiLayerNetExtend}, reference.Adam
    for sub in ("", "ch07", "ch08"):
        sys.path.insert(0, os.path.join(book_dir, sub))
    import deep_convnet
    import simple_convnet
    from common.multi_layer_net_extend import MultiLayerNetExtend
    from common.optimizer import Adam as BookAdam
    return {"SimpleConvNet": simple_convnet.SimpleConvNet, "DeepConvNet": deep_convnet.DeepConvNet,
            MLP: MultiLayerNetExtend}, BookAdam


def network(cls, name, **kwargs):
    """A ``cls`` as the benchmark's ``name`` (the convnets with their defaults)."""
    return cls(*MLP_ARGS, **MLP_OPTIONS, **kwargs) if name == MLP else cls(**kwargs)


def numpy_step(make_net, make_optimizer, x, t, mode="exact"):
    np.random.seed(0)
    net, optimizer = make_net(), make_optimizer()

    def step():
        with fastdl.mode(mode):
            optimizer.update(net.params, net.gradient(x, t))
    return step


def torch_step(name, dtype, x, t):
    """The same network in torch (conv/ReLU/max-pool, Dropout, cross-entropy, Adam)."""
    nn = torch.nn
    if name == MLP:
        layers, width = [], MLP_ARGS[0]
        for size in MLP_ARGS[1]:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(0.5)]
            width = size
        model = nn.Sequential(*layers, nn.Linear(width, MLP_ARGS[2]))
    elif name == "SimpleConvNet":
        model = nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10))
    else:
        layers, channels = [], 1
        for i, (filters, pad) in enumerate([(16, 1), (16, 1), (32, 1), (32, 2), (64, 1), (64, 1)]):
            layers += [nn.Conv2d(channels, filters, 3, padding=pad), nn.ReLU()]
            if i % 2:
                layers.append(nn.MaxPool2d(2))
            channels = filters
        model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 4 * 4, 50), nn.ReLU(), nn.Dropout(0.5),
                              nn.Linear(50, 10), nn.Dropout(0.5))
    model = model.to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    tx, tt = torch.from_numpy(x).to(dtype), torch.from_numpy(t).long()

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(tx), tt).backward()
        optimizer.step()
    return step


def steps_for(name, book_nets, BookAdam, x, t):
    steps = {
        "book": numpy_step(lambda: network(book_nets[name], name), BookAdam, x, t),
        "fastdl exact": numpy_step(lambda: network(getattr(nets, name), name), Adam, x, t),
        "fast float64": numpy_step(lambda: network(getattr(nets, name), name), Adam, x, t, "fast"),
        "fast float32": numpy_step(lambda: network(getattr(nets, name), name, dtype=np.float32), Adam, x, t,
                                   "fast"),
    }
    if torch is not None:
        steps["torch float64"] = torch_step(name, torch.float64, x, t)
        steps["torch float32"] = torch_step(name, torch.float32, x, t)
    return steps


def interleave(steps, rounds):
    """Median seconds of each step and the median of its per-round ratio to ``book``."""
    for step in steps.values():
        step()
    times = {key: [] for key in steps}
    for _ in range(rounds):
        for key, step in steps.items():
            start = time.perf_counter()
            step()
            times[key].append(time.perf_counter() - start)
    return {key: (statistics.median(values),
                  statistics.median(b / v for b, v in zip(times["book"], values)))
            for key, values in times.items()}


ACCURACY_RUNS = [("exact", np.float64), ("fast", np.float64), ("fast", np.float32)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", help="a checkout of the book (its common, ch07, ch08)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--nets", nargs="*", default=["SimpleConvNet", "DeepConvNet"])
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of BLAS, OpenMP and torch (default 1); 0 leaves each library's default "
                             "(every core)")
    args = parser.parse_args()
    book_nets, BookAdam = book_classes(args.book)
    rng = np.random.default_rng(0)
    x, t = rng.random((100, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 100)
    if args.threads:
        fastdl.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    print(f"baseline: {'the book at ' + args.book if args.book else 'fastdl.reference'}; "
          f"torch: {torch.__version__ if torch else 'not installed'}; "
          f"threads: {args.threads or 'each library default'}")
    with threadpool_limits(args.threads or None):
        for name in args.nets:
            print(f"load average before: {os.getloadavg()[0]:.2f}")
            inputs = x.reshape(len(x), -1) if name == MLP else x
            results = interleave(steps_for(name, book_nets, BookAdam, inputs, t), args.rounds)
            print(f"| {name} step | median ms | vs book |\n|---|---|---|")
            for key, (seconds, ratio) in results.items():
                print(f"| {key} | {seconds * 1e3:.1f} | {ratio:.2f}x |")
            print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
        if args.accuracy:
            data = load_mnist(flatten=False, source="embedded", verbose=False)
            epoch = data[0][0].shape[0] // 100
            runs = [("SimpleConvNet", 300, mode, dtype) for mode, dtype in ACCURACY_RUNS]
            runs += [("DeepConvNet", epoch, mode, dtype) for mode, dtype in ACCURACY_RUNS + [("exact", np.float32)]]
            for name, steps, mode, dtype in runs:
                network = functools.partial(getattr(nets, name), dtype=dtype)
                accuracy = accuracy_after_training(network, mode, data, steps=steps, batch=100)
                print(f"{name}, {steps} Adam steps, {mode} {np.dtype(dtype).name}: "
                      f"test accuracy {accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main()
