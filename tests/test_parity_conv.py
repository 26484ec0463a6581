"""Convolution, pooling, im2col/col2im and the conv nets against the reference, bit for bit."""
import contextlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

import fastdl
from fastdl import _backend, layers, nets, optim, reference, util
from fastdl.reference import convnets as reference_convnets

SOURCE_DTYPES = [np.float16, np.float32, np.float64]
SPECIAL_VALUES = [np.nan, np.inf, -np.inf, -0.0, 0.0]

needs_kernels = pytest.mark.skipif(util._conv is None, reason="compiled kernels not built")


def same(a, b):
    """Same dtype, shape and values: NaN where NaN, and the sign of every number, zeros included.

    Not the sign of a NaN: IEEE 754 (section 6.3) leaves it unspecified, and
    the CPU takes it from whichever NaN operand comes first, which the order
    of an addition's operands (x + NaN or NaN + x) decides.
    """
    a, b = np.asarray(a), np.asarray(b)
    numbers = ~np.isnan(a) if a.dtype.kind == "f" else True
    return (a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
            and np.array_equal(np.signbit(a) & numbers, np.signbit(b) & numbers))


@contextlib.contextmanager
def quiet():
    # NaN and inf in the input make NumPy warn in both implementations.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@st.composite
def windows(draw, max_filter=7):
    """Image batch, filter size, stride and pad with at least one window position."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    filter_h, filter_w = draw(st.integers(1, max_filter)), draw(st.integers(1, max_filter))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, filter_h - 2 * pad), 9))
    W = draw(st.integers(max(1, filter_w - 2 * pad), 9))
    return (N, C, H, W), filter_h, filter_w, stride, pad


@st.composite
def images(draw, shape):
    """Random values of a float dtype, some replaced by NaN, inf, -inf, -0.0, 0.0."""
    dtype = draw(st.sampled_from(SOURCE_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape)
    if draw(st.booleans()):
        x = np.round(x)  # many ties and zeros of both signs
    count = draw(st.integers(0, 4))
    x.flat[rng.integers(0, x.size, count)] = rng.choice(SPECIAL_VALUES, count)
    layout = draw(st.sampled_from(["C", "F", "reversed"]))
    x = x.astype(dtype)
    if layout == "F":
        x = np.asfortranarray(x)
    elif layout == "reversed":
        x = np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    return x


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_im2col_and_col2im_match_the_reference(data):
    shape, filter_h, filter_w, stride, pad = data.draw(windows())
    x = data.draw(images(shape))
    col = util.im2col(x, filter_h, filter_w, stride, pad)
    assert same(col, reference.im2col(x, filter_h, filter_w, stride, pad))
    dcol = data.draw(images(col.shape)).astype(data.draw(st.sampled_from([np.float32, np.float64])))
    with quiet():
        assert same(util.col2im(dcol, shape, filter_h, filter_w, stride, pad),
                    reference.col2im(dcol, shape, filter_h, filter_w, stride, pad))


@needs_kernels
def test_float16_converts_exactly_for_every_bit_pattern():
    x = np.arange(2**16, dtype=np.uint16).view(np.float16).reshape(1, 1, 256, 256)
    col = util.im2col(x, 1, 1)
    expected = x.astype(np.float64).ravel()
    finite = ~np.isnan(expected)
    assert np.array_equal(col.ravel().view(np.uint64)[finite], expected.view(np.uint64)[finite])
    assert np.array_equal(np.isnan(col.ravel()), ~finite)


def conv_pair(rng, C, filter_h, filter_w, stride, pad, FN, W_dtype, b_dtype):
    W = rng.standard_normal((FN, C, filter_h, filter_w)).astype(W_dtype)
    b = rng.standard_normal(FN).astype(b_dtype)
    return layers.Convolution(W, b, stride, pad), reference.Convolution(W.copy(), b.copy(), stride, pad)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_convolution_matches_the_reference(data):
    shape, filter_h, filter_w, stride, pad = data.draw(windows())
    x = data.draw(images(shape))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    FN = data.draw(st.integers(1, 4))
    W_dtype, b_dtype = data.draw(st.sampled_from(SOURCE_DTYPES)), data.draw(st.sampled_from(SOURCE_DTYPES))
    fast, ref = conv_pair(rng, shape[1], filter_h, filter_w, stride, pad, FN, W_dtype, b_dtype)
    with quiet():
        out = fast.forward(x)
        assert same(out, ref.forward(x))
        assert same(fast.col, ref.col) and same(fast.col_W, ref.col_W) and fast.x is x
        dout = data.draw(images(out.shape)).astype(data.draw(st.sampled_from([np.float32, np.float64])))
        assert same(fast.backward(dout), ref.backward(dout))
    assert same(fast.dW, ref.dW) and same(fast.db, ref.db)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_convolution_backward_weights_matches_backward(data):
    shape, filter_h, filter_w, stride, pad = data.draw(windows(max_filter=4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape)
    fast, ref = conv_pair(rng, shape[1], filter_h, filter_w, stride, pad, data.draw(st.integers(1, 4)),
                          np.float64, np.float64)
    dout = rng.standard_normal(fast.forward(x).shape)
    ref.forward(x)
    ref.backward(dout)
    assert fast.backward_weights(dout) is None
    assert same(fast.dW, ref.dW) and same(fast.db, ref.db)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_pooling_matches_the_reference(data):
    shape, pool_h, pool_w, stride, pad = data.draw(windows(max_filter=4))  # stride < pool: overlapping windows
    x = data.draw(images(shape))
    fast, ref = layers.Pooling(pool_h, pool_w, stride, pad), reference.Pooling(pool_h, pool_w, stride, pad)
    try:
        expected = ref.forward(x)
    except ValueError:  # the book's out_h ignores pad: its reshape fails
        with pytest.raises(ValueError):
            fast.forward(x)
        return
    out = fast.forward(x)
    assert same(out, expected) and same(fast.arg_max, ref.arg_max) and fast.x is x
    dout = data.draw(images(out.shape))
    with quiet():
        assert same(fast.backward(dout), ref.backward(dout))


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1), (3, 3)])
@pytest.mark.parametrize("dtype", SOURCE_DTYPES)
def test_pooling_matches_the_reference_on_wide_images(size, stride, dtype):
    # Rows of many windows: the kernel scans them side by side, 64 at a time.
    rng = np.random.default_rng(size * 10 + stride)
    x = rng.standard_normal((2, 3, 19, 150))
    x.flat[rng.integers(0, x.size, 40)] = rng.choice(SPECIAL_VALUES, 40)
    x = x.astype(dtype)
    fast, ref = layers.Pooling(size, size, stride), reference.Pooling(size, size, stride)
    with quiet():
        assert same(fast.forward(x), ref.forward(x)) and same(fast.arg_max, ref.arg_max)
        dout = rng.standard_normal(ref.forward(x).shape)
        assert same(fast.backward(dout), ref.backward(dout))


@pytest.mark.parametrize("negative_zeros", [0, 1, 50])
def test_pooling_zero_maxima_in_wide_rows_match_the_reference(negative_zeros):
    # Maxima that are zeros, a few or many of them -0.0 beside +0.0 (the
    # reference path then decides np.max's sign), as after a ReLU.
    rng = np.random.default_rng(negative_zeros)
    x = np.minimum(np.round(rng.standard_normal((2, 3, 16, 30))), 0.0) + 0.0
    x.flat[rng.integers(0, x.size, negative_zeros)] = -0.0
    fast, ref = layers.Pooling(2, 2, 2), reference.Pooling(2, 2, 2)
    assert same(fast.forward(x), ref.forward(x)) and same(fast.arg_max, ref.arg_max)


@needs_kernels
def test_pooling_ties_between_zero_signs_take_the_reference_path():
    x = np.array([[[[0.0, -0.0], [-1.0, -0.0]]]])
    fast, ref = layers.Pooling(2, 2), reference.Pooling(2, 2)
    assert same(fast.forward(x), ref.forward(x)) and same(fast.arg_max, ref.arg_max)


@needs_kernels
def test_the_conv_kernels_run(monkeypatch):
    # The parity tests above would pass on the reference path alone.
    for name in ("_reference_im2col", "_reference_col2im"):
        monkeypatch.setattr(util, name, lambda *args: pytest.fail("the reference ran"))
    monkeypatch.setattr(reference.Pooling, "forward", lambda *args: pytest.fail("the reference ran"))
    monkeypatch.setattr(reference.Pooling, "backward", lambda *args: pytest.fail("the reference ran"))
    x = np.random.rand(2, 3, 6, 6)
    conv = layers.Convolution(np.random.rand(4, 3, 3, 3), np.zeros(4), 1, 1)
    out = conv.forward(x)
    assert out.flags.c_contiguous  # the reference's is a transposed view
    conv.backward(out)
    pool = layers.Pooling(2, 2)
    pool.backward(pool.forward(x))
    util.col2im(conv.col, x.shape, 3, 3, 1, 1)


@pytest.mark.parametrize("N, C, H, W, contiguous", [
    (2, 3, 7, 6, True), (1, 3, 7, 6, False), (2, 1, 7, 6, False), (2, 3, 1, 1, False)])
def test_gradients_keep_the_references_layout_where_it_matters(N, C, H, W, contiguous):
    # Convolution.backward's transpose-and-reshape of a C-ordered gradient of
    # one image, channel or pixel is a view (rounded differently from a copy).
    x = np.random.rand(N, C, H, W)
    W_ = np.random.rand(4, C, 3, 3)
    pairs = [(layers.Convolution(W_, np.zeros(4), 2, 1), reference.Convolution(W_, np.zeros(4), 2, 1)),
             (layers.Pooling(1, 1, 1, 0), reference.Pooling(1, 1, 1, 0))]
    if H > 1:
        pairs.append((layers.Pooling(1, 2, 1, 0), reference.Pooling(1, 2, 1, 0)))
    for fast, ref in pairs:
        dout = np.ones(ref.forward(x).shape)
        fast.forward(x)
        fast_dx, ref_dx = fast.backward(dout), ref.backward(dout)
        assert same(fast_dx, ref_dx)
        if contiguous:
            assert fast_dx.flags.c_contiguous
        else:
            assert fast_dx.strides == ref_dx.strides and fast_dx.base.shape == ref_dx.base.shape


@pytest.fixture
def low_thread_threshold():
    if util._conv is None:
        pytest.skip("compiled kernels not built")
    if not fastdl._threads.OPENMP:
        pytest.skip("built without OpenMP: every thread count runs one thread")
    old = _backend.load("threads")._set_thread_threshold(1)
    threads = fastdl.get_num_threads()
    yield
    _backend.load("threads")._set_thread_threshold(old)
    fastdl.set_num_threads(threads)


@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 0), (1, 2)])
def test_results_do_not_depend_on_the_thread_count(low_thread_threshold, stride, pad):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 3, 9, 8))
    x[x < -1.5] = -0.0
    W, b = rng.standard_normal((5, 3, 3, 3)), np.arange(5.0)
    results = []
    for threads in (1, 2, 3):
        fastdl.set_num_threads(threads)
        assert fastdl.get_num_threads() == threads
        conv, pool = layers.Convolution(W, b, stride, pad), layers.Pooling(3, 3, stride, 0)
        out = conv.forward(x)
        dx = conv.backward(np.cos(out))
        pooled = pool.forward(x)
        results.append([out, conv.col, dx, conv.dW, conv.db, pooled, pool.arg_max, pool.backward(np.sin(pooled))])
    for other in results[1:]:
        assert all(same(a, b) for a, b in zip(results[0], other))


@needs_kernels
@pytest.mark.parametrize("blas_threads, dout_dtype", [(1, np.float64), (2, np.float64), (1, np.float32)])
@pytest.mark.parametrize("N, C, H, W, FN, F, stride, pad", [
    (100, 1, 28, 28, 30, 5, 1, 0),    # SimpleConvNet's conv1
    (40, 16, 28, 28, 16, 3, 1, 1),    # DeepConvNet's conv2
    (50, 32, 14, 14, 32, 3, 1, 2),    # DeepConvNet's conv4 (pad 2)
    (400, 3, 17, 15, 7, 4, 2, 1),     # odd sizes, stride 2: blocks end inside an image
])
def test_products_made_in_blocks_match_the_reference(N, C, H, W, FN, F, stride, pad, blas_threads, dout_dtype):
    """The products of large layers are made a block of rows at a time: each row's bits as in one product."""
    OH, OW = (H + 2 * pad - F) // stride + 1, (W + 2 * pad - F) // stride + 1
    block_rows = util._conv._product_block_rows
    if block_rows(N * OH * OW, C * F * F, FN, 1) == 0:
        pytest.skip("NumPy's BLAS is not OpenBLAS: the products are not made in blocks")
    assert block_rows(N * OH * OW, C * F * F, FN, OH * OW) > 0
    rng = np.random.default_rng(N)
    x = rng.standard_normal((N, C, H, W))
    fast, ref = conv_pair(rng, C, F, F, stride, pad, FN, np.float64, np.float64)
    with threadpool_limits(blas_threads, user_api="blas"):
        out = fast.forward(x)
        assert same(out, ref.forward(x))
        dout = rng.standard_normal(out.shape).astype(dout_dtype)
        assert same(fast.backward(dout), ref.backward(dout))
    assert same(fast.dW, ref.dW) and same(fast.db, ref.db)


def train(net_class, seed, steps, make_net, x, t):
    """Adam steps from ``np.random.seed(seed)``: the net, losses, grads and the global stream's state."""
    np.random.seed(seed)
    net = make_net(net_class)
    optimizer = (optim if net_class.__module__ == "fastdl.nets" else reference).Adam(lr=0.01)
    losses, grads_seen = [], []
    for _ in range(steps):
        grads = net.gradient(x, t)
        grads_seen.append({k: v.copy() for k, v in grads.items()})
        optimizer.update(net.params, grads)
        losses.append(net.loss(x, t))
    return net, losses, grads_seen, np.random.get_state()[1].copy()


def assert_same_training(fast_run, ref_run):
    fast, fast_losses, fast_grads, fast_stream = fast_run
    ref, ref_losses, ref_grads, ref_stream = ref_run
    assert fast_losses == ref_losses
    for fast_step, ref_step in zip(fast_grads, ref_grads):
        assert fast_step.keys() == ref_step.keys()
        assert all(same(fast_step[k], ref_step[k]) for k in ref_step)
    assert all(same(fast.params[k], ref.params[k]) for k in ref.params)
    assert np.array_equal(fast_stream, ref_stream)


@pytest.mark.parametrize("make_net, shape", [
    (lambda cls: cls(input_dim=(1, 12, 12), conv_param={"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1},
                     hidden_size=8, output_size=5), (6, 1, 12, 12)),
    (lambda cls: cls(input_dim=(2, 11, 11), conv_param={"filter_num": 3, "filter_size": 4, "pad": 0, "stride": 1},
                     hidden_size=6, output_size=3, weight_init_std=0.1), (1, 2, 11, 11)),
])
def test_simple_convnet_trains_like_the_reference(make_net, shape):
    rng = np.random.default_rng(0)
    x = rng.random(shape).astype(np.float32)
    t = rng.integers(0, 3, shape[0])
    fast_run = train(nets.SimpleConvNet, 1, 3, make_net, x, t)
    ref_run = train(reference_convnets.SimpleConvNet, 1, 3, make_net, x, t)
    assert_same_training(fast_run, ref_run)
    assert fast_run[0].accuracy(x, t, batch_size=4) == ref_run[0].accuracy(x, t, batch_size=4)


def test_deep_convnet_trains_like_the_reference():
    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 28, 28))
    t = np.eye(10)[[1, 7, 3]]
    fast_run = train(nets.DeepConvNet, 2, 2, lambda cls: cls(), x, t)
    ref_run = train(reference_convnets.DeepConvNet, 2, 2, lambda cls: cls(), x, t)
    assert_same_training(fast_run, ref_run)
    assert same(fast_run[0].predict(x), ref_run[0].predict(x))


def test_deep_convnet_half_float_evaluation_matches():
    # The book's ch08/half_float_network.py: parameters rounded to float16 in
    # place, float16 input.
    x = np.random.default_rng(1).random((4, 1, 28, 28)).astype(np.float16)
    outputs = []
    for net_class in (nets.DeepConvNet, reference_convnets.DeepConvNet):
        np.random.seed(0)
        net = net_class()
        for param in net.params.values():
            param[...] = param.astype(np.float16)
        outputs.append(net.predict(x))
    assert same(*outputs)


def test_fast_nets_skip_the_first_convolutions_input_gradient(monkeypatch):
    np.random.seed(0)
    net = nets.SimpleConvNet(input_dim=(1, 8, 8), conv_param={"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1},
                             hidden_size=4, output_size=3)
    monkeypatch.setattr(layers.Convolution, "backward", lambda self, dout: pytest.fail("dx computed"))
    grads = net.gradient(np.random.rand(2, 1, 8, 8), np.array([0, 2]))
    assert grads["W1"].shape == (2, 1, 3, 3)


def test_the_books_gradient_check_gives_the_references_numbers():
    # ch07/gradient_check.py: backprop and central differences (two forward
    # passes per parameter) on a tiny SimpleConvNet, fastdl vs the reference.
    results = []
    for net_class in (nets.SimpleConvNet, reference_convnets.SimpleConvNet):
        np.random.seed(0)
        net = net_class(input_dim=(1, 10, 10), conv_param={"filter_num": 10, "filter_size": 3, "pad": 0, "stride": 1},
                        hidden_size=10, output_size=10, weight_init_std=0.01)
        X = np.random.rand(100).reshape((1, 1, 10, 10))
        T = np.array([1]).reshape((1, 1))
        results.append((net.numerical_gradient(X, T), net.gradient(X, T)))
    (fast_numerical, fast_backprop), (ref_numerical, ref_backprop) = results
    for key in ref_backprop:
        assert same(fast_numerical[key], ref_numerical[key]) and same(fast_backprop[key], ref_backprop[key])


@needs_kernels
def test_every_result_is_a_new_array():
    x = np.random.default_rng(0).random((16, 4, 64, 64))
    conv, pool = layers.Convolution(np.ones((4, 4, 3, 3)), np.zeros(4), 1, 1), layers.Pooling(2, 2, 2)
    first = [conv.forward(x), conv.col, conv.backward(np.ones((16, 4, 64, 64))),
             pool.forward(x), pool.arg_max, pool.backward(np.ones((16, 4, 32, 32)))]
    kept = [a.copy() for a in first]
    conv.forward(x + 1), conv.backward(np.full((16, 4, 64, 64), 2.0))
    pool.forward(x + 1), pool.backward(np.full((16, 4, 32, 32), 2.0))
    assert all(np.array_equal(a, b) for a, b in zip(first, kept))
