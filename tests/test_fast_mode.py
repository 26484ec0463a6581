"""Fast mode against the book's float64 classes (the reference): the stated tolerances,
training accuracy, the gradient check, determinism, bad input, threads and fork."""
import functools
import importlib
import os
import subprocess
import sys
import threading
import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastdl
from fastdl import _backend, fast, nets
from fastdl import reference as ref
from fastdl.datasets import load_mnist
from fastdl.optim import Adam
from tests.training import accuracy_after_training

NETS = ["SimpleConvNet", "DeepConvNet"]


@pytest.fixture(params=_backend.builds("fastconv"))
def fastconv(request):
    """Each build of the fast kernels this CPU runs (the baseline, and the AVX2 one where it has AVX2)."""
    return importlib.import_module(f"fastdl._kernels.{request.param}")


def test_fast_layers_use_the_fastest_build():
    assert fast._fastconv.__name__ == f"fastdl._kernels.{_backend.builds('fastconv')[-1]}"


def _rel(a, b):
    b = np.asarray(b, dtype=np.float64)
    return np.linalg.norm(np.asarray(a, dtype=np.float64) - b) / np.linalg.norm(b)


def _batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def _fast_gradient(name, dtype, x, t, seed=1):
    np.random.seed(seed)
    net = getattr(nets, name)(dtype=dtype)
    with fastdl.mode("fast"):
        np.random.seed(seed + 1)  # Dropout's masks
        grads = net.gradient(x, t)
        loss = net.last_layer.loss
    return net, grads, loss


def _book_gradient(name, x, t, seed=1):
    np.random.seed(seed)
    net = getattr(ref, name)()
    np.random.seed(seed + 1)
    return net.gradient(x, t), net.last_layer.loss


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize(("dtype", "bound"), [(np.float64, 1e-9), (np.float32, 5e-3)])
def test_fast_gradients_within_the_bounds_of_the_book(name, dtype, bound):
    x, t = _batch()
    book, book_loss = _book_gradient(name, x, t)
    _, grads, loss = _fast_gradient(name, dtype, x, t)
    assert np.asarray(loss).dtype == dtype
    if dtype == np.float64:
        assert abs(loss - book_loss) <= 1e-12 * abs(book_loss)
    for key in book:
        assert grads[key].dtype == dtype and grads[key].shape == book[key].shape
        assert _rel(grads[key], book[key]) <= bound, key


@pytest.mark.parametrize("name", NETS)
def test_fast_mode_keeps_the_api(name):
    x, t = _batch()
    net, grads, _ = _fast_gradient(name, np.float64, x, t)
    with fastdl.mode("fast"):
        y = net.predict(x)
    assert y.shape == (8, 10) and y.dtype == np.float64
    conv = net._weighted_layers()[0]
    assert conv.col is None and conv.x is x  # documented: col is not produced in fast mode
    assert np.shares_memory(conv.col_W, conv.W)
    assert conv.dW is grads["W1"] and conv.db is grads["b1"]
    pools = [layer for layer in net._stack() if isinstance(layer, ref.Pooling)]
    assert all(pool.arg_max is None for pool in pools)
    relu = net._stack()[1]
    assert relu.mask is None  # documented: the ReLU after a Convolution runs fused into it
    assert all(pool.x is None for pool in pools)  # and the Pooling after that ReLU too
    with fastdl.mode("fast"):
        alone = conv.forward(x)  # a layer called on its own is not fused
    assert (alone < 0).any()


def test_a_fused_relu_backward_follows_its_forward():
    x, t = _batch()
    np.random.seed(1)
    net = nets.SimpleConvNet()
    with fastdl.mode("fast"):
        net.loss(x, t)
    relu = net.layers["Relu1"]
    assert relu._fused
    net.loss(x, t)  # exact mode now: the ReLU runs on its own again
    assert not relu._fused and relu.mask is not None


def test_fast_mode_draws_the_same_stream():
    x, t = _batch()
    for mode in ("exact", "fast"):
        np.random.seed(4)
        net = nets.DeepConvNet()
        with fastdl.mode(mode):
            net.gradient(x, t)
        state = np.random.get_state()[1:3]
        if mode == "exact":
            exact_state = state
    assert np.array_equal(state[0], exact_state[0]) and state[1] == exact_state[1]


def _train(mode, dtype, data):
    small_network = functools.partial(nets.SimpleConvNet, input_dim=(1, 14, 14), hidden_size=32, dtype=dtype,
                                      conv_param={"filter_num": 8, "filter_size": 3, "pad": 0, "stride": 1})
    return accuracy_after_training(small_network, mode, data, steps=300, batch=32)


def test_training_accuracy_within_one_point_of_exact_mode():
    (x, t), (x_test, t_test) = load_mnist(flatten=False, source="embedded", verbose=False)
    # Shrunk to keep the test short: 14x14 images (every other pixel), 2,000 test images.
    data = (x[:, :, ::2, ::2], t), (x_test[:, :, ::2, ::2], t_test)
    exact = _train("exact", np.float64, data)
    assert exact > 0.7  # it learned (chance is 0.1)
    for dtype in (np.float64, np.float32):
        assert abs(_train("fast", dtype, data) - exact) <= 0.01, dtype


def test_chapter_7_gradient_check_passes_in_fast_float64():
    # The book's ch07/gradient_check.py: a 10x10 input, 10 filters of 3x3.
    np.random.seed(0)
    net = nets.SimpleConvNet(input_dim=(1, 10, 10),
                             conv_param={"filter_num": 10, "filter_size": 3, "pad": 0, "stride": 1},
                             hidden_size=10, output_size=10, weight_init_std=0.01)
    X = np.random.rand(100).reshape((1, 1, 10, 10))
    T = np.array([1]).reshape((1, 1))
    with fastdl.mode("fast"):
        grad_num = net.numerical_gradient(X, T)
        grad = net.gradient(X, T)
    exact_num = net.numerical_gradient(X, T)
    exact = net.gradient(X, T)
    for key in grad_num:
        fast_diff = np.abs(grad[key] - grad_num[key]).mean()
        exact_diff = np.abs(exact[key] - exact_num[key]).mean()
        assert fast_diff <= max(2 * exact_diff, 1e-9), key


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deterministic_for_a_thread_count(dtype):
    x, t = _batch(12)
    for blas_threads in (1, 2):
        with threadpool_limits(blas_threads, user_api="blas"):
            first = _fast_gradient("DeepConvNet", dtype, x, t)[1]
            second = _fast_gradient("DeepConvNet", dtype, x, t)[1]
        # Not across BLAS thread counts: NumPy's products (the book's too) can differ there.
        for key in first:
            assert np.array_equal(first[key], second[key]), key


def test_block_size_changes_only_the_rounding():
    x, t = _batch(12)
    default = _fast_gradient("DeepConvNet", np.float64, x, t)[1]
    block_rows = fast.BLOCK_ROWS
    try:
        fast.BLOCK_ROWS = 64
        small = _fast_gradient("DeepConvNet", np.float64, x, t)[1]
    finally:
        fast.BLOCK_ROWS = block_rows
    for key in default:
        assert _rel(small[key], default[key]) <= 1e-12, key


def test_exact_mode_in_one_thread_while_another_runs_fast():
    # SimpleConvNet draws nothing in gradient(), so two threads share no stream.
    x, t = _batch()
    np.random.seed(1)
    book = ref.SimpleConvNet().gradient(x, t)
    np.random.seed(1)
    with fastdl.mode("fast"):
        fast_expected = nets.SimpleConvNet(dtype=np.float32).gradient(x, t)
    np.random.seed(1)
    exact_net = nets.SimpleConvNet()
    np.random.seed(1)
    fast_net = nets.SimpleConvNet(dtype=np.float32)
    results = {}

    def worker(name, mode, net):
        with fastdl.mode(mode):
            for _ in range(5):
                results[name] = net.gradient(x, t)

    threads = [threading.Thread(target=worker, args=("exact", "exact", exact_net)),
               threading.Thread(target=worker, args=("fast", "fast", fast_net))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for key in book:
        assert np.array_equal(results["exact"][key], book[key]), key
        assert np.array_equal(results["fast"][key], fast_expected[key]), key


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_runs_fast_mode():
    code = """
import multiprocessing, numpy as np, fastdl
from fastdl import nets
x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32); t = np.arange(4)
np.random.seed(0); net = nets.SimpleConvNet(dtype=np.float32)
fastdl.set_mode("fast")
parent = net.gradient(x, t)["W1"]
def child(queue):
    queue.put(net.gradient(x, t)["W1"])
ctx = multiprocessing.get_context("fork")
queue = ctx.Queue()
p = ctx.Process(target=child, args=(queue,))
p.start()
got = queue.get(timeout=60)
p.join(60)
assert p.exitcode == 0 and np.array_equal(got, parent)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# Bad input: fast mode declines to the exact path, or gives its errors.

def _conv(dtype=np.float64):
    rng = np.random.default_rng(0)
    return fast.Convolution(rng.random((4, 3, 3, 3)).astype(dtype), np.zeros(4, dtype), 1, 1,
                            dtype=None if dtype == np.float64 else dtype)


def test_convolution_errors_match_exact_mode():
    for bad in (np.zeros((2, 2, 5, 5)), np.zeros((2, 3, 5)), np.zeros((0, 3, 5, 5)), [[1.0]]):
        with pytest.raises((ValueError, TypeError)) as exact_error:
            _conv().forward(bad)
        with fastdl.mode("fast"), pytest.raises(type(exact_error.value)):
            _conv().forward(bad)


def test_convolution_declines_what_it_does_not_cover():
    x = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)  # integers: the exact path
    layer = _conv()
    with fastdl.mode("fast"):
        out = layer.forward(x)
    assert layer._fast is None and np.array_equal(out, _conv().forward(x))


def test_convolution_backward_errors():
    layer = _conv()
    with pytest.raises(RuntimeError):
        layer.backward(np.zeros((2, 4, 5, 5)))
    with fastdl.mode("fast"):
        layer.forward(np.ones((2, 3, 5, 5)))
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(np.zeros((2, 4, 5, 4)))
    with pytest.raises(TypeError):
        layer.backward(np.zeros((2, 4, 5, 5), dtype=complex))
    with pytest.raises(TypeError):
        layer.backward("dout")
    layer.W = np.zeros((5, 3, 3, 3))
    with pytest.raises(ValueError, match="W has shape"):
        layer.backward(np.zeros((2, 4, 5, 5)))


def test_fast_outputs_are_never_written_again():
    layer = _conv()
    x = np.random.default_rng(1).random((3, 3, 6, 6))
    with fastdl.mode("fast"):
        out = layer.forward(x)
        kept = out.copy()
        dx = layer.backward(np.ones_like(out))
        dx_kept, dW_kept = dx.copy(), layer.dW.copy()
        layer.forward(x * 2)
        layer.backward(np.full_like(out, 3.0))
    assert np.array_equal(out, kept) and np.array_equal(dx, dx_kept) and np.array_equal(layer.dW * 0 + dW_kept, dW_kept)
    assert not np.shares_memory(out, layer.dW)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("masked", [True, False])
def test_gradient_block_masks_and_sums(fastconv, dtype, masked):
    """The fused ReLU's mask: 0 where the output is <= 0 (-0.0 too), the gradient where it is NaN."""
    rng = np.random.default_rng(3)
    dout = rng.standard_normal((3, 2, 7)).astype(dtype)  # 7 positions: the sum's tail after runs of 4
    dout[0, 0, :3] = [np.inf, -np.inf, np.nan]
    gate = rng.standard_normal((3, 2, 7)).astype(dtype)
    gate[0, 0, :] = [1.0, 2.0, -1.0, 0.0, -0.0, np.nan, np.inf]
    block, db = np.full((2, 14), 9.0, dtype=dtype), np.ones(2)
    fastconv.gradient_block(dout, gate, masked, 1, 3, block, db)
    kept = dout if not masked else np.where(gate <= 0, 0, dout)
    expected = kept[1:3].transpose(1, 0, 2).reshape(2, 14)
    assert np.array_equal(block, expected)
    assert np.allclose(db, 1 + expected.astype(np.float64).sum(axis=1), rtol=1e-12)
    fastconv.gradient_block(dout, gate, masked, 0, 1, block[:, :7].copy(), db)
    assert np.isnan(db[0])  # inf + -inf: both kept by their gates


def test_pooling_nan_and_ties_and_declines():
    pool = fast.Pooling(2, 2, stride=2)
    x = np.array([[[[1.0, np.nan], [3.0, 3.0]]]])
    with fastdl.mode("fast"):
        out = pool.forward(x)
        dx = pool.backward(np.ones_like(out))
    assert np.isnan(out[0, 0, 0, 0]) and np.array_equal(dx, [[[[0.0, 1.0], [0.0, 0.0]]]])
    ties = np.full((1, 1, 2, 2), 2.0)
    with fastdl.mode("fast"):
        pool.forward(ties)
        assert np.array_equal(pool.backward(np.ones((1, 1, 1, 1))), [[[[1.0, 0.0], [0.0, 0.0]]]])
    with fastdl.mode("fast"):
        pool.forward(np.ones((1, 1, 4, 4), dtype=np.float32))  # not the layer's dtype (float64)
    assert pool._fast is None and pool.arg_max is not None  # declined to the exact path
    with fastdl.mode("fast"):
        pool.forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="dout has shape"):
        pool.backward(np.ones((1, 1, 3, 2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [2, 14, 16, 30, 160])  # 160: windows in runs of 64, then 16
def test_two_by_two_pooling_matches_the_reference(fastconv, dtype, width):
    """The book's 2x2 pooling, whose rows run vectorised unless a window may hold a NaN:
    the same maxima and first arg-max as the reference with NaN, inf, -inf, -0.0 and ties."""
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, (2, 3, 6, width)).astype(dtype)  # small integers: many ties
    special = rng.random(x.shape)
    x[special < 0.02] = np.nan
    x[(special > 0.02) & (special < 0.04)] = np.inf
    x[(special > 0.04) & (special < 0.06)] = -np.inf
    x[(special > 0.06) & (special < 0.1)] = -0.0
    x[0, 1] = rng.standard_normal(x.shape[2:])  # rows without NaN, and one all ties
    x[1, 2] = 1.0
    exact = ref.Pooling(2, 2, stride=2)
    expected = exact.forward(x)
    out, arg = fastconv.pool_forward(x, 2, 2, 2)
    assert np.array_equal(out, expected, equal_nan=True)
    assert np.array_equal(arg.transpose(0, 2, 3, 1).ravel(), exact.arg_max)  # the book's rows: (n, y, x, c)
    prod = x.transpose(1, 0, 2, 3).reshape(3, -1).copy()  # the fused layer's input, as a product
    fused, fused_arg = np.empty_like(out), np.empty_like(arg)
    fastconv.bias_relu_pool_block(prod, np.zeros(3, dtype), 0, 6, width, 2, 2, 2, fused, fused_arg)
    relu = ref.Pooling(2, 2, stride=2)
    assert np.array_equal(fused, relu.forward(np.where(x <= 0, 0, x)), equal_nan=True)
    assert np.array_equal(fused_arg.transpose(0, 2, 3, 1).ravel(), relu.arg_max)


@pytest.mark.parametrize("size", [8, 9])  # windows that tile the 6 x 6 output, and 7 x 7 with a row and column left
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_convolution_relu_pooling_matches_the_reference(size, dtype):
    rng = np.random.default_rng(8)
    W, b = rng.standard_normal((4, 3, 3, 3)).astype(dtype), rng.standard_normal(4).astype(dtype)
    x = rng.standard_normal((5, 3, size, size)).astype(dtype)
    layers = [ref.Convolution(W, b, dtype=dtype), ref.Relu(), ref.Pooling(2, 2, stride=2, dtype=dtype)]
    out_exact = functools.reduce(lambda a, layer: layer.forward(a), layers, x)
    dout = rng.standard_normal(out_exact.shape).astype(dtype)
    dx_exact = functools.reduce(lambda d, layer: layer.backward(d), layers[::-1], dout)
    conv, relu, pool = fast.Convolution(W, b, dtype=dtype), fast.Relu(), fast.Pooling(2, 2, stride=2, dtype=dtype)
    with fastdl.mode("fast"):
        out = conv.forward_fused(x, relu, pool)
        dx = conv.backward(relu.backward(pool.backward(dout)))
    assert pool._fused and out.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-14
    assert _rel(out, out_exact) <= tol
    for got, expected in [(dx, dx_exact), (conv.dW, layers[0].dW), (conv.db, layers[0].db)]:
        assert _rel(got, expected) <= tol


def test_overlapping_pooling_matches_the_reference():
    x = np.random.default_rng(2).random((2, 3, 7, 7))
    dout = np.random.default_rng(3).random((2, 3, 3, 3))
    exact = ref.Pooling(3, 3, stride=2)
    expected_out, expected_dx = exact.forward(x), exact.backward(dout)
    pool = fast.Pooling(3, 3, stride=2)
    with fastdl.mode("fast"):
        out = pool.forward(x)
        dx = pool.backward(dout)
    assert np.array_equal(out, expected_out)
    assert np.allclose(dx, expected_dx, rtol=1e-15, atol=0)  # overlapping windows add in another order


@pytest.mark.parametrize(("stride", "pad"), [(1, 0), (2, 1), (3, 2), (1, 3)])
def test_strides_and_pads_match_the_reference(stride, pad):
    rng = np.random.default_rng(4)
    W, b = rng.standard_normal((5, 2, 3, 4)), rng.standard_normal(5)
    x = rng.standard_normal((3, 2, 7, 9))
    exact = ref.Convolution(W, b, stride, pad)
    out_exact = exact.forward(x)
    dout = rng.standard_normal(out_exact.shape)
    dx_exact = exact.backward(dout)
    layer = fast.Convolution(W, b, stride, pad)
    with fastdl.mode("fast"):
        out = layer.forward(x)
        dx = layer.backward(dout)
    assert layer._fast is not None
    assert _rel(out, out_exact) <= 1e-14 and _rel(dx, dx_exact) <= 1e-14
    assert _rel(layer.dW, exact.dW) <= 1e-14 and _rel(layer.db, exact.db) <= 1e-14


@pytest.mark.parametrize(("N", "C", "H", "F", "pad"), [(3, 4, 7, 3, 2), (2, 3, 24, 3, 2), (3, 2, 6, 5, 3)])
def test_input_gradient_as_a_flipped_convolution(monkeypatch, N, C, H, F, pad):
    """Where padding makes the output larger than the input, dx is the convolution of the padded
    gradient with the flipped filters: against the reference, in blocks of one image and of several."""
    rng = np.random.default_rng(9)
    W, b = rng.standard_normal((C - 1, C, F, F)), rng.standard_normal(C - 1)
    x = rng.standard_normal((N, C, H, H))
    exact = ref.Convolution(W, b, 1, pad)
    out_exact = exact.forward(x)
    dout = rng.standard_normal(out_exact.shape)
    dx_exact = exact.backward(dout)
    flipped, kernels = [], fast._fastconv

    def conv_backward(*args):  # records whether it was given the flipped filters
        flipped.append(args[-3] is not None)
        return kernels.conv_backward(*args)

    spy = type("Spy", (), {name: getattr(kernels, name) for name in dir(kernels) if name[0] != "_"})
    spy.conv_backward = staticmethod(conv_backward)
    monkeypatch.setattr(fast, "_fastconv", spy)
    layer = fast.Convolution(W, b, 1, pad)
    with fastdl.mode("fast"):
        layer.forward(x)
        dx = layer.backward(dout)
    assert flipped == [True]
    assert _rel(dx, dx_exact) <= 1e-14 and _rel(layer.dW, exact.dW) <= 1e-14


def test_im2col_planes_unfolds_a_block_laid_out_by_channel(fastconv):
    x = np.random.default_rng(10).standard_normal((3, 2, 5, 6)).astype(np.float32)
    for pad in (0, 2):
        col = np.empty((2 * 9, 3 * (5 + 2 * pad - 2) * (6 + 2 * pad - 2)), np.float32)
        expected = col.copy()
        fastconv.im2col_block(x, 0, 3, 3, 3, 1, pad, expected)
        fastconv.im2col_planes(x.transpose(1, 0, 2, 3).reshape(2, -1).copy(), 5, 6, 3, 3, pad, col)
        assert np.array_equal(col, expected)
    with pytest.raises(ValueError, match="whole 5 x 7 images"):
        fastconv.im2col_planes(np.zeros((2, 60), np.float32), 5, 7, 3, 3, 0, col)
    with pytest.raises(ValueError, match="col has shape"):
        fastconv.im2col_planes(np.zeros((2, 60), np.float32), 5, 6, 3, 3, 0, col)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_relu_block_is_the_book_relu_of_the_sum(fastconv, dtype):
    rng = np.random.default_rng(11)
    prod = rng.standard_normal((3, 2 * 10)).astype(dtype)
    prod[0, :4] = [np.nan, -0.0, np.inf, -np.inf]
    b = np.array([0.0, 0.5, -0.5], dtype)
    out = np.full((4, 3, 10), 7.0, dtype)
    fastconv.bias_relu_block(prod, b, 1, out)
    total = prod.reshape(3, 2, 10).transpose(1, 0, 2) + b[:, None]
    expected = np.where(total <= 0, 0, total)  # the book's ReLU: 0 where <= 0 (-0.0 too), a NaN kept
    assert np.array_equal(out[1:3], expected, equal_nan=True) and not np.signbit(out[1:3]).any()
    assert (out[0] == 7).all() and (out[3] == 7).all()
    with pytest.raises(ValueError, match="do not fit"):
        fastconv.bias_relu_block(prod, b, 3, out)


def test_passes_refuse_bad_arguments(fastconv):
    x, W, b = np.zeros((3, 2, 5, 5)), np.zeros((4, 18)), np.zeros(4)
    col, prod, out = np.zeros((18, 2 * 25)), np.zeros((4, 2 * 25)), np.zeros((3, 4, 25))
    no_pool = (0, 0, 0, out, np.zeros((0, 0, 0), np.uint8))
    fastconv.conv_forward(x, W, b, 3, 3, 1, 1, col, prod, np.matmul, True, *no_pool)  # fits
    with pytest.raises(ValueError, match="scratch matrices do not fit"):
        fastconv.conv_forward(x, W, b, 3, 3, 1, 1, col[:, :40], prod, np.matmul, True, *no_pool)
    with pytest.raises(ValueError, match="scratch matrices do not fit"):
        fastconv.conv_forward(x, W[:, :9], b, 3, 3, 1, 1, col, prod, np.matmul, True, *no_pool)
    with pytest.raises(ValueError, match="out does not fit"):
        fastconv.conv_forward(x, W, b, 3, 3, 1, 1, col, prod, np.matmul, True, 0, 0, 0, np.zeros((3, 4, 24)),
                              no_pool[-1])
    with pytest.raises(ValueError, match="out does not fit"):  # 5 x 5 maps pool to 2 x 2, not 3 x 3
        fastconv.conv_forward(x, W, b, 3, 3, 1, 1, col, prod, np.matmul, True, 2, 2, 2, np.zeros((3, 4, 9)),
                              np.zeros((3, 4, 9), np.uint8))
    with pytest.raises(ValueError, match="arg does not fit"):
        fastconv.conv_forward(x, W, b, 3, 3, 1, 1, col, prod, np.matmul, True, 2, 2, 2, np.zeros((3, 4, 4)),
                              np.zeros((3, 4, 9), np.uint8))
    with pytest.raises(ValueError, match="pooling windows"):
        fastconv.conv_forward(x, W, b, 3, 3, 1, 1, col, prod, np.matmul, True, 6, 6, 2, np.zeros((3, 4, 1)),
                              np.zeros((3, 4, 1), np.uint8))
    dW, db, grad = np.zeros((18, 4)), np.zeros(4), np.zeros((3, 4, 4))
    offsets = np.full((3, 4, 4), 4, np.uint8)  # outside a 2 x 2 window
    with pytest.raises(ValueError, match="outside the window"):
        fastconv.conv_backward(x, W, 3, 3, 1, 1, col, prod, np.zeros((18, 4)), np.matmul, dW, db, grad, grad, True,
                               offsets, 2, 2, 2, None, None, None, None)
    with pytest.raises(ValueError, match="do not fit x and filters"):
        fastconv.conv_backward(x, W, 3, 3, 1, 1, col, prod, np.zeros((18, 3)), np.matmul, dW, db, grad, grad, True,
                               offsets * 0, 2, 2, 2, None, None, None, None)
    with pytest.raises(ValueError, match="dx does not fit"):
        fastconv.conv_backward(x, W, 3, 3, 1, 1, col, prod, np.zeros((18, 4)), np.matmul, dW, db, out, out, True,
                               np.zeros((0, 0, 0), np.uint8), 0, 0, 0, np.zeros((3, 2, 5, 4)), None, None, None)
    with pytest.raises(ValueError, match="back_filters, windows and product"):
        fastconv.conv_backward(x, W, 3, 3, 1, 1, col, prod, np.zeros((18, 4)), np.matmul, dW, db, out, out, True,
                               np.zeros((0, 0, 0), np.uint8), 0, 0, 0, np.zeros(x.shape), np.zeros((2, 36)),
                               np.zeros((36, 2 * 25)), np.zeros((2, 49)))
    assert not dW.any() and not db.any()  # nothing written before the checks


def test_kernels_refuse_bad_arguments(fastconv):
    x = np.zeros((2, 3, 5, 5))
    col = np.zeros((27, 25))
    with pytest.raises(ValueError, match="block"):
        fastconv.im2col_block(x, 1, 3, 3, 3, 1, 1, col)
    with pytest.raises(ValueError, match="col has shape"):
        fastconv.im2col_block(x, 0, 2, 3, 3, 1, 1, col)
    with pytest.raises(ValueError, match="window"):
        fastconv.im2col_block(x, 0, 1, 9, 3, 1, 1, col)
    with pytest.raises(ValueError, match="col has shape"):
        fastconv.col2im_block(col, x, 0, 2, 3, 3, 1, 1)
    with pytest.raises(ValueError, match="outside the window"):
        fastconv.pool_backward(np.zeros((1, 1, 1, 1)), np.full((1, 1, 1, 1), 4, np.uint8),
                               np.zeros((1, 1, 2, 2)), 2, 2, 2)
    with pytest.raises(ValueError, match="255"):
        fastconv.pool_forward(np.zeros((1, 1, 16, 16)), 16, 16, 1)
    with pytest.raises(ValueError, match="do not fit"):
        fastconv.bias_relu_pool_block(np.zeros((2, 16)), np.zeros(2), 0, 4, 4, 2, 2, 2,
                                      np.zeros((1, 2, 3, 2)), np.zeros((1, 2, 3, 2), np.uint8))
    pooled, arg = np.ones((1, 2, 2, 2)), np.full((1, 2, 2, 2), 4, np.uint8)
    with pytest.raises(ValueError, match="outside the window"):
        fastconv.pool_gradient_block(pooled, pooled, arg, 0, 1, 4, 4, 2, 2, 2, np.zeros((2, 16)), np.zeros(2))
    with pytest.raises(ValueError, match="do not fit"):
        fastconv.pool_gradient_block(pooled, pooled, arg * 0, 0, 1, 4, 4, 2, 2, 2, np.zeros((2, 15)), np.zeros(2))
    with pytest.raises(ValueError, match="do not fit"):  # a window of 256 has no uint8 offsets
        big = np.ones((1, 1, 1, 1))
        fastconv.pool_gradient_block(big, big, np.zeros((1, 1, 1, 1), np.uint8), 0, 1, 16, 16, 16, 16, 1,
                                     np.zeros((1, 256)), np.zeros(1))
    with pytest.raises(ValueError, match="do not fit"):
        fastconv.gradient_block(np.zeros((1, 2, 4)), np.zeros((1, 2, 5)), True, 0, 1, np.zeros((2, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="dtype mismatch"):
        fastconv.im2col_block(x.astype(np.float32), 0, 1, 3, 3, 1, 1, col)


@pytest.mark.parametrize(("H", "W", "FH", "FW", "stride", "pad"),
                         [(5, 5, 3, 3, 1, 1), (6, 4, 3, 5, 1, 2), (4, 4, 1, 1, 1, 0), (3, 7, 5, 3, 1, 1),
                          (2, 5, 5, 5, 1, 2), (7, 9, 3, 4, 2, 1), (6, 6, 3, 3, 1, 0),
                          # stride-1 runs of 8 and more: blocks of 8, a copy's last one overlapping
                          (8, 8, 3, 3, 1, 1), (9, 9, 3, 3, 1, 1), (13, 12, 3, 3, 1, 1), (3, 14, 5, 5, 1, 2),
                          (12, 12, 1, 1, 1, 0), (4, 16, 5, 3, 1, 1), (5, 28, 3, 3, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_and_col2im_blocks_against_the_reference(fastconv, H, W, FH, FW, stride, pad, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, H, W)).astype(dtype)
    expected = ref.im2col(x, FH, FW, stride, pad)  # rows (n, oy, ox), columns (c, y, x)
    P = expected.shape[0] // 3
    col = np.full((expected.shape[1], 2 * P), np.nan, dtype=dtype)
    fastconv.im2col_block(x, 1, 3, FH, FW, stride, pad, col)
    assert np.array_equal(col, expected[P:].T)
    dcol = rng.standard_normal(col.shape).astype(dtype)
    dx = np.full_like(x, np.nan)  # the block's images are set, not added to
    dx[0] = 0
    fastconv.col2im_block(dcol, dx, 1, 3, FH, FW, stride, pad)
    full = np.zeros((expected.shape[0], expected.shape[1]))
    full[P:] = dcol.T
    assert np.allclose(dx, ref.col2im(full, x.shape, FH, FW, stride, pad), rtol=1e-5, atol=1e-5)
    assert not dx[0].any()


def _step_peak(mode, dtype, x, t):
    """Peak bytes NumPy allocates during one DeepConvNet step, beyond what the step before left."""
    np.random.seed(0)
    net, optimizer = nets.DeepConvNet(dtype=dtype), Adam()
    with fastdl.mode(mode):
        optimizer.update(net.params, net.gradient(x, t))
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            optimizer.update(net.params, net.gradient(x, t))
            return tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()


def test_a_fast_step_needs_no_more_memory_than_an_exact_step():
    x, t = _batch()
    exact = _step_peak("exact", np.float64, x, t)
    assert _step_peak("fast", np.float64, x, t) <= exact / 2  # no whole col: about a tenth at batch 100
    assert _step_peak("fast", np.float32, x, t) <= exact / 4


def test_misaligned_and_byte_swapped_input():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 5, 5))
    raw = np.zeros(x.nbytes + 1, dtype=np.uint8)
    misaligned = raw[1:].view(np.float64).reshape(x.shape)
    misaligned[...] = x
    assert not misaligned.flags.aligned
    swapped = x.astype(x.dtype.newbyteorder())
    expected = _conv().forward(x)
    for variant in (misaligned, swapped):
        layer = _conv()
        with fastdl.mode("fast"):
            out = layer.forward(variant)
            layer.backward(np.ones_like(out))
        assert layer._fast is not None and _rel(out, expected) <= 1e-14
