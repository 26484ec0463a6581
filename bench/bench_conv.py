"""Convolution benchmarks: the reference, fastdl and (if installed) torch in one group.

Run, one thread everywhere::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD \\
        python -m pytest bench/bench_conv.py --benchmark-columns=median,iqr,rounds

Shapes are those of the book's two networks at batch 100: chapter 7's
``SimpleConvNet`` (``simple``) and chapter 8's ``DeepConvNet`` (``deep``).
A network's first layer sees MNIST's float32 images; every later layer
float64. Groups:

- ``im2col <layer>``, ``col2im <layer>``: reference vs fastdl;
- ``conv fwd+bwd <layer>``: ``Convolution.forward`` then ``backward``
  (``dx``, ``dW``, ``db``), with torch's ``conv2d`` and an autograd backward
  (same three gradients, float64) as a peer;
- ``pool fwd+bwd <shape>``: 2x2 stride 2 max pooling, torch's
  ``max_pool2d`` as a peer;
- ``train step <net>``: ``gradient`` + ``Adam.update`` at batch 100.

``python bench/bench_conv.py`` instead alternates reference and fastdl
rounds of the issue's targets and prints the median of the paired ratios
(see ``interleaved`` in ``bench/conftest.py``).
"""
import time

import numpy as np
import pytest

from bench.conftest import interleaved, torch
from fastdl import layers, nets, optim, reference, util

# name: (x shape, x dtype, W shape, stride, pad)
CONV_LAYERS = {
    "simple conv1": ((100, 1, 28, 28), "float32", (30, 1, 5, 5), 1, 0),
    "deep conv1": ((100, 1, 28, 28), "float32", (16, 1, 3, 3), 1, 1),
    "deep conv2": ((100, 16, 28, 28), "float64", (16, 16, 3, 3), 1, 1),
    "deep conv3": ((100, 16, 14, 14), "float64", (32, 16, 3, 3), 1, 1),
    "deep conv4": ((100, 32, 14, 14), "float64", (32, 32, 3, 3), 1, 2),
    "deep conv5": ((100, 32, 8, 8), "float64", (64, 32, 3, 3), 1, 1),
    "deep conv6": ((100, 64, 8, 8), "float64", (64, 64, 3, 3), 1, 1),
}
# The input of each 2x2 stride-2 pooling layer (float64, after a ReLU).
POOL_INPUTS = {"simple pool1": (100, 30, 24, 24), "deep pool1": (100, 16, 28, 28),
               "deep pool2": (100, 32, 16, 16), "deep pool3": (100, 64, 8, 8)}
NETS = ["SimpleConvNet", "DeepConvNet"]
SECONDS_PER_BENCHMARK = 1.0


def run(benchmark, step):
    """Time ``step`` for about ``SECONDS_PER_BENCHMARK`` (5 to 200 rounds) after one warm-up call."""
    start = time.perf_counter()
    step()
    once = time.perf_counter() - start
    rounds = int(min(max(SECONDS_PER_BENCHMARK / once, 5), 200))
    benchmark.pedantic(step, rounds=rounds, iterations=1, warmup_rounds=1)


def conv_arrays(name):
    """``x``, ``W``, ``b`` and a ``dout`` of the output's shape for layer ``name``."""
    x_shape, dtype, W_shape, stride, pad = CONV_LAYERS[name]
    rng = np.random.default_rng(0)
    x = rng.random(x_shape).astype(dtype)
    W = 0.1 * rng.standard_normal(W_shape)
    b = 0.1 * rng.standard_normal(W_shape[0])
    out_h = (x_shape[2] + 2 * pad - W_shape[2]) // stride + 1
    out_w = (x_shape[3] + 2 * pad - W_shape[3]) // stride + 1
    dout = rng.standard_normal((x_shape[0], W_shape[0], out_h, out_w))
    return x, W, b, dout


def pool_arrays(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    dout = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2))
    return x, dout


def conv_step(impl, name):
    """A callable running one forward and one backward pass of layer ``name``."""
    x, W, b, dout = conv_arrays(name)
    stride, pad = CONV_LAYERS[name][3:]
    if impl == "torch":
        xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
        Wt, bt = torch.from_numpy(W).requires_grad_(), torch.from_numpy(b).requires_grad_()
        dout_t = torch.from_numpy(dout)

        def step():
            out = torch.nn.functional.conv2d(xt, Wt, bt, stride=stride, padding=pad)
            torch.autograd.grad(out, (xt, Wt, bt), dout_t)
        return step
    layer = (layers if impl == "fastdl" else reference).Convolution(W, b, stride, pad)
    return lambda: (layer.forward(x), layer.backward(dout))


def pool_step(impl, shape):
    """A callable running one forward and one backward pass of 2x2 stride-2 max pooling."""
    x, dout = pool_arrays(shape)
    if impl == "torch":
        xt, dout_t = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

        def step():
            out = torch.nn.functional.max_pool2d(xt, 2, 2)
            torch.autograd.grad(out, xt, dout_t)
        return step
    layer = (layers if impl == "fastdl" else reference).Pooling(2, 2, stride=2)
    return lambda: (layer.forward(x), layer.backward(dout))


def train_step(impl, net_name):
    """A callable running ``gradient`` + ``Adam.update`` of a fresh network at batch 100."""
    np.random.seed(0)
    network = getattr(nets if impl == "fastdl" else reference, net_name)()
    optimizer = (optim if impl == "fastdl" else reference).Adam()
    rng = np.random.default_rng(0)
    x = rng.random((100, 1, 28, 28)).astype(np.float32)  # MNIST-like: normalised float32 pixels
    t = rng.integers(0, 10, 100)
    return lambda: optimizer.update(network.params, network.gradient(x, t))


def skip_without_torch(impl):
    if impl == "torch" and torch is None:
        pytest.skip("torch is not installed")


@pytest.mark.parametrize("layer", CONV_LAYERS)
@pytest.mark.parametrize("impl", ["reference", "fastdl"])
@pytest.mark.parametrize("direction", ["im2col", "col2im"])
def test_im2col_col2im(benchmark, roofline, one_thread, direction, impl, layer):
    benchmark.group = f"{direction} {layer}"
    x, W, _, dout = conv_arrays(layer)
    window = (W.shape[2], W.shape[3], *CONV_LAYERS[layer][3:])  # filter_h, filter_w, stride, pad
    col_shape = (dout.size // W.shape[0], W[0].size)  # (N*OH*OW, C*FH*FW)
    module = util if impl == "fastdl" else reference
    if direction == "im2col":  # reads x, writes the float64 col
        run(benchmark, lambda: module.im2col(x, *window))
        n_bytes = x.nbytes + 8 * col_shape[0] * col_shape[1]
    else:  # reads col, writes the float64 image
        dcol = np.random.default_rng(1).standard_normal(col_shape)
        run(benchmark, lambda: module.col2im(dcol, x.shape, *window))
        n_bytes = dcol.nbytes + 8 * x.size
    if impl == "fastdl":
        roofline(benchmark, n_bytes)


@pytest.mark.parametrize("layer", CONV_LAYERS)
@pytest.mark.parametrize("impl", ["reference", "fastdl", "torch"])
def test_conv(benchmark, one_thread, impl, layer):
    benchmark.group = f"conv fwd+bwd {layer}"
    skip_without_torch(impl)
    run(benchmark, conv_step(impl, layer))


@pytest.mark.parametrize("layer", POOL_INPUTS)
@pytest.mark.parametrize("impl", ["reference", "fastdl", "torch"])
def test_pool(benchmark, roofline, one_thread, impl, layer):
    benchmark.group = f"pool fwd+bwd {layer} {POOL_INPUTS[layer]}"
    skip_without_torch(impl)
    run(benchmark, pool_step(impl, POOL_INPUTS[layer]))
    if impl == "fastdl":
        # Forward reads x, writes out and arg_max (int64); backward reads dout and arg_max, writes dx.
        x_bytes = 8 * np.prod(POOL_INPUTS[layer])
        roofline(benchmark, 2 * x_bytes + 4 * (x_bytes // 4))


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("impl", ["reference", "fastdl"])
def test_train_step(benchmark, one_thread, impl, net):
    benchmark.group = f"train step {net} batch 100 Adam"
    run(benchmark, train_step(impl, net))


# The targets (speed-up of fastdl over the reference): name, the two
# steps, (inner repeats, rounds) for the interleaved mode.
TARGETS = [
    ("pool fwd+bwd (100, 30, 24, 24) 2x2 s2, target >= 10x",
     lambda impl: pool_step(impl, POOL_INPUTS["simple pool1"]), (10, 40)),
    ("conv fwd+bwd simple conv1 (x float32), target >= 1.8x", lambda impl: conv_step(impl, "simple conv1"), (5, 40)),
    ("conv fwd+bwd deep conv2 16->16 3x3 pad 1, target >= 2.4x",
     lambda impl: conv_step(impl, "deep conv2"), (3, 30)),
    ("train step SimpleConvNet, target >= 3.2x", lambda impl: train_step(impl, "SimpleConvNet"), (3, 30)),
    ("train step DeepConvNet, target >= 2.7x", lambda impl: train_step(impl, "DeepConvNet"), (1, 20)),
]


if __name__ == "__main__":
    # OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/bench_conv.py
    import fastdl
    fastdl.set_num_threads(1)
    for name, make_step, (inner, rounds) in TARGETS:
        interleaved(name, make_step("reference"), make_step("fastdl"), inner=inner, rounds=rounds)
