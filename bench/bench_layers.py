"""Layer benchmarks: the reference, fastdl and (BN only, if installed) torch in one group.

Run, one thread everywhere::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD \\
        python -m pytest bench/bench_layers.py --benchmark-columns=median,iqr,rounds

Groups: ``batchnorm fwd+bwd NxD dtype`` (reference, fastdl, torch's
``batch_norm`` with an autograd backward), ``dropout fwd+bwd NxD dtype``
(reference, fastdl drawing the reference's stream, fastdl with a
``numpy.random.Generator``), and ``train step`` (``gradient`` + ``update``
of the book's ``MultiLayerNetExtend(784, [100]*5, 10, use_batchnorm=True,
use_dropout=True)`` at batch 100, reference vs fastdl, SGD and Adam).
fastdl's BN medians are also listed at the end as multiples of their
memory-bandwidth roofline (``BN_STREAMS`` arrays per forward+backward; see
``bench/conftest.py``).

The ``interleaved`` groups alternate reference and fastdl within every
round (the training step; BN and Dropout at 100x100, 20 calls a round), so
a load that drifts during the run (a shared machine) reaches both alike;
their medians are in ``extra_info`` (``bench/render.py``).
"""
import numpy as np
import pytest

from bench.conftest import interleave, torch
from fastdl import layers, nets, optim, reference
from fastdl.reference import nets as reference_nets

SHAPES = [(100, 100), (256, 1024), (1024, 4096)]
# (N, D) arrays the exact BN kernels stream per forward+backward, reads and
# writes: forward x (mean), x -> xc (and the sum of squares), xc -> xn, out;
# backward dout, xn, xc (three column sums), dout, xc -> dx, dx -> dx. xc,
# xn and out are attributes of the book's API and the reference's order of
# operations needs the second and third backward passes; an implementation
# free of both could stream 8 (two reads of x, out; two reads each of dout
# and x, dx).
BN_STREAMS = 14
# (rounds, iterations) per shape: enough rounds for a median.
ROUNDS = {(100, 100): (200, 10), (256, 1024): (30, 1), (1024, 4096): (7, 1)}


def run(benchmark, step, shape):
    rounds, iterations = ROUNDS.get(shape, (30, 1))
    benchmark.pedantic(step, rounds=rounds, iterations=iterations, warmup_rounds=1)


def data(shape, dtype):
    rng = np.random.default_rng(0)
    return (rng.standard_normal(shape).astype(dtype) * 2 + 1,
            rng.standard_normal(shape).astype(dtype))


def train_step(impl, optimizer):
    """A callable running ``gradient`` + ``update`` of the book's BN+Dropout network at batch 100."""
    np.random.seed(0)
    module = nets if impl == "fastdl" else reference_nets
    net = module.MultiLayerNetExtend(784, [100] * 5, 10, use_batchnorm=True, use_dropout=True)
    opt = getattr(optim if impl == "fastdl" else reference, optimizer)()
    rng = np.random.default_rng(0)
    x = rng.random((100, 784)).astype(np.float32)  # MNIST-like: normalised float32 pixels
    t = rng.integers(0, 10, 100)
    return lambda: opt.update(net.params, net.gradient(x, t))


def layer_step(impl, layer, shape, dtype):
    """A callable running one forward and one backward pass of ``layer`` (BN or Dropout)."""
    x, dout = data(shape, dtype)
    module = layers if impl == "fastdl" else reference
    if layer == "batchnorm":
        layer = module.BatchNormalization(np.ones(shape[1], dtype), np.zeros(shape[1], dtype))
    else:
        layer = module.Dropout(0.5)
    return lambda: (layer.forward(x), layer.backward(dout))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["reference", "fastdl", "torch"])
def test_batchnorm(benchmark, roofline, impl, shape, dtype):
    benchmark.group = f"batchnorm fwd+bwd {shape[0]}x{shape[1]} {dtype}"
    x, dout = data(shape, dtype)
    D = shape[1]
    if impl == "torch":
        if torch is None:
            pytest.skip("torch is not installed")
        xt = torch.from_numpy(x).requires_grad_()
        weight = torch.ones(D, dtype=xt.dtype, requires_grad=True)
        bias = torch.zeros(D, dtype=xt.dtype, requires_grad=True)
        running_mean, running_var = torch.zeros(D, dtype=xt.dtype), torch.ones(D, dtype=xt.dtype)
        dout_t = torch.from_numpy(dout)

        def step():
            out = torch.nn.functional.batch_norm(xt, running_mean, running_var, weight, bias,
                                                 training=True, momentum=0.1, eps=1e-6)
            torch.autograd.grad(out, (xt, weight, bias), dout_t)
    else:
        step = layer_step(impl, "batchnorm", shape, dtype)
    run(benchmark, step, shape)
    if impl == "fastdl":
        roofline(benchmark, BN_STREAMS * x.nbytes)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("impl", ["reference", "fastdl", "fastdl-rng"])
def test_dropout(benchmark, impl, shape, dtype):
    benchmark.group = f"dropout fwd+bwd {shape[0]}x{shape[1]} {dtype}"
    if impl == "fastdl-rng":
        x, dout = data(shape, dtype)
        layer = layers.Dropout(0.5, rng=np.random.default_rng(0))
        run(benchmark, lambda: (layer.forward(x), layer.backward(dout)), shape)
    else:
        run(benchmark, layer_step(impl, "dropout", shape, dtype), shape)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("impl", ["reference", "fastdl"])
def test_train_step(benchmark, impl, optimizer):
    benchmark.group = f"train step MultiLayerNetExtend [100]*5 BN+dropout batch 100 {optimizer}"
    benchmark.pedantic(train_step(impl, optimizer), rounds=100, iterations=1, warmup_rounds=2)


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_train_step_interleaved(benchmark, one_thread, optimizer):
    """The training step, reference and fastdl alternating."""
    benchmark.group = f"train step MultiLayerNetExtend [100]*5 BN+dropout batch 100 {optimizer}, interleaved"
    interleave(benchmark, {impl: train_step(impl, optimizer) for impl in ("reference", "fastdl")},
               rounds=150)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("layer", ["batchnorm", "dropout"])
def test_layer_interleaved(benchmark, one_thread, layer, dtype):
    """BN or Dropout forward + backward at 100x100, reference and fastdl alternating."""
    benchmark.group = f"{layer} fwd+bwd 100x100 {dtype}, interleaved"
    interleave(benchmark, {impl: layer_step(impl, layer, (100, 100), dtype) for impl in ("reference", "fastdl")},
               rounds=100, inner=20)
