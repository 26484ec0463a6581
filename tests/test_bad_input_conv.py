"""Bad input to Convolution, Pooling and the conv kernels: a clear Python exception or the reference's behaviour."""
import multiprocessing
import warnings

import numpy as np
import pytest

import fastdl
from fastdl import _backend, layers, reference, util


def conv(C=2, FN=3, size=3, stride=1, pad=0):
    return layers.Convolution(np.ones((FN, C, size, size)), np.zeros(FN), stride, pad)


def pool(size=2, stride=2, pad=0):
    return layers.Pooling(size, size, stride, pad)


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("make", [conv, pool])
@pytest.mark.parametrize("shape", [(2, 6, 6), (6, 6), (1, 2, 6, 6, 1)])
def test_input_must_be_four_dimensional(make, shape):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        make().forward(np.ones(shape))


@pytest.mark.parametrize("make", [conv, pool])
def test_input_must_be_an_array(make):
    with pytest.raises(TypeError, match="NumPy array"):
        make().forward(np.ones((1, 2, 6, 6)).tolist())


@pytest.mark.parametrize("make", [conv, pool])
def test_empty_batch(make):
    with pytest.raises(ValueError, match="empty batch"):
        make().forward(np.ones((0, 2, 6, 6)))


def test_channels_of_x_and_W_must_match():
    with pytest.raises(ValueError, match="3 channels but W"):
        conv(C=2).forward(np.ones((1, 3, 6, 6)))


def test_W_must_be_four_dimensional():
    layer = conv()
    layer.W = np.ones((3, 18))
    with pytest.raises(ValueError, match="4-D"):
        layer.forward(np.ones((1, 2, 6, 6)))


@pytest.mark.parametrize("make, x", [
    (lambda: conv(size=5), np.ones((1, 2, 4, 6))),
    (lambda: conv(size=5, pad=1), np.ones((1, 2, 6, 2))),
    (lambda: pool(size=3), np.ones((1, 2, 2, 6))),
])
def test_window_larger_than_the_padded_input(make, x):
    with pytest.raises(ValueError, match="larger than the padded input"):
        make().forward(x)


@pytest.mark.parametrize("make", [conv, pool])
@pytest.mark.parametrize("stride, pad, error, message", [
    (0, 0, ValueError, "stride must be at least 1"),
    (-1, 0, ValueError, "stride must be at least 1"),
    (1, -1, ValueError, "pad must be at least 0"),
    (1.5, 0, TypeError, "stride must be an integer"),
    (1, 0.5, TypeError, "pad must be an integer"),
])
def test_stride_and_pad(make, stride, pad, error, message):
    layer = make()
    layer.stride, layer.pad = stride, pad
    with pytest.raises(error, match=message):
        layer.forward(np.ones((1, 2, 6, 6)))


def test_pooling_window_must_be_positive():
    with pytest.raises(ValueError, match="at least 1x1"):
        layers.Pooling(0, 2).forward(np.ones((1, 2, 6, 6)))


@pytest.mark.parametrize("layout", ["F", "negative strides", "sliced"])
@pytest.mark.parametrize("make_pair", [
    lambda: (conv(pad=1), reference.Convolution(np.ones((3, 2, 3, 3)), np.zeros(3), 1, 1)),
    lambda: (pool(), reference.Pooling(2, 2, 2)),
])
def test_any_memory_layout_gives_the_references_results(layout, make_pair):
    x = np.random.default_rng(0).standard_normal((2, 2, 8, 8))
    x = {"F": np.asfortranarray(x), "negative strides": x[::-1, :, ::-1], "sliced": x[:, :, ::2, 1:7]}[layout]
    fast, ref = make_pair()
    assert same(fast.forward(x), ref.forward(x))
    dout = np.ones(ref.forward(x).shape)
    assert same(fast.backward(dout), ref.backward(dout))


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.bool_])
@pytest.mark.parametrize("make_pair", [
    lambda: (conv(), reference.Convolution(np.ones((3, 2, 3, 3)), np.zeros(3))),
    lambda: (pool(), reference.Pooling(2, 2, 2)),
])
def test_non_float_input_runs_the_reference(dtype, make_pair):
    x = (np.arange(2 * 2 * 6 * 6) % 7).reshape(2, 2, 6, 6).astype(dtype)
    fast, ref = make_pair()
    assert same(fast.forward(x), ref.forward(x))


@pytest.mark.parametrize("make", [conv, pool])
def test_backward_before_forward(make):
    with pytest.raises(RuntimeError, match="before forward"):
        make().backward(np.ones((1, 3, 2, 2)))


@pytest.mark.parametrize("make", [conv, pool])
@pytest.mark.parametrize("wrong", [lambda s: s[:3], lambda s: (s[0] + 1,) + s[1:],
                                   lambda s: (s[0], s[2], s[3], s[1])])
def test_dout_of_the_wrong_shape(make, wrong):
    layer = make()
    out = layer.forward(np.ones((2, 2, 6, 6)))
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(np.ones(wrong(out.shape)))
    with pytest.raises(TypeError, match="NumPy array"):
        layer.backward(out.tolist())


def test_a_tampered_arg_max_gets_the_references_error():
    layer = pool()
    out = layer.forward(np.random.rand(1, 2, 4, 4))
    layer.arg_max = layer.arg_max.copy()
    layer.arg_max[0] = 4
    with pytest.raises(IndexError):
        layer.backward(np.ones(out.shape))


def test_util_functions_fall_back_to_the_reference():
    x = np.ones((1, 1, 3, 3))
    with pytest.raises(ZeroDivisionError):
        util.im2col(x, 2, 2, stride=0)
    assert same(util.im2col(x.astype(int), 2, 2), reference.im2col(x.astype(int), 2, 2))
    col = np.ones((4, 4))
    assert same(util.col2im(col.astype(np.int32), (1, 1, 3, 3), 2, 2),
                reference.col2im(col.astype(np.int32), (1, 1, 3, 3), 2, 2))


def _entry(module, name):
    """``module``'s entry point ``name`` (or its older ``name_kernel`` spelling)."""
    return getattr(module, name, None) or getattr(module, name + "_kernel")


def _uncovered_calls():
    """(kernel module, entry point, arguments it does not cover), one or more per module."""
    x = np.ones((2, 3, 6, 6))
    shape = x.shape
    conv = util._conv
    calls = [
        (conv, "im2col", (x.astype(np.int64), 3, 3, 1, 0)),
        (conv, "im2col", (x, 7, 3, 1, 0)),                         # larger than the padded image
        (conv, "im2col", (x, 3, 3, 0, 0)),                         # stride 0
        (conv, "im2col", (x, 3.0, 3, 1, 0)),                       # a float size
        (conv, "im2col", (x.tolist(), 3, 3, 1, 0)),
        (conv, "im2col", (np.ones((2, 0, 6, 6)), 3, 3, 1, 0)),     # empty: the reference's reshapes decide
        (conv, "col2im", (np.ones((5, 27)), shape, 3, 3, 1, 0)),   # wrong size
        (conv, "col2im", (np.ones((32, 27), np.int32), shape, 3, 3, 1, 0)),
        (conv, "col2im", (np.ones((32, 27)), [2, 3, 6, 6], 3, 3, 1, 0)),
        (conv, "conv_forward", (x, np.ones((4, 3, 3, 3), np.int64), np.zeros(4), 1, 0)),
        (conv, "conv_forward", (x, np.ones((4, 3, 3, 3)), np.zeros(5), 1, 0)),
        (conv, "conv_forward", (x, np.ones((4, 2, 3, 3)), np.zeros(4), 1, 0)),
        (conv, "conv_backward", (np.ones((2, 4, 4, 4)), np.ones((32, 27), np.float32), np.ones((27, 4)),
                                 shape, 3, 3, 1, 0, True)),
        (conv, "conv_backward", (np.ones((2, 4, 3, 3)), np.ones((32, 27)), np.ones((27, 4)), shape, 3, 3, 1, 0, True)),
        (conv, "pool_forward", (x, 2, 2, 0, 0)),
        (conv, "pool_forward", (x.astype(np.int32), 2, 2, 2, 0)),
        (conv, "pool_forward", (np.ones((1, 1, 1, 2)), 1, 4, 1, 1)),  # the book's size ignores pad
        (conv, "pool_backward", (np.ones((2, 3, 3, 3)), np.zeros(54, np.int32), shape, 2, 2, 2, 0)),
        (conv, "pool_backward", (np.ones((2, 3, 3, 3)), np.full(54, 4, np.intp), shape, 2, 2, 2, 0)),
        (conv, "pool_backward", (np.ones((2, 3, 3, 3)), np.full(54, -1, np.intp), shape, 2, 2, 2, 0)),
    ]
    activations = _backend.load("activations")
    calls += [(activations, "relu_forward", (x.astype(np.int64),)),
              (activations, "relu_backward", (np.ones(4), np.zeros(3, bool)))]
    batchnorm = _backend.load("batchnorm")
    m = np.ones((4, 3))
    calls += [(batchnorm, "forward_train", (m.astype(np.int64), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), 0.9, 0.1)),
              (batchnorm, "forward_test", (m, np.ones(4), np.zeros(3), np.zeros(3), np.ones(3))),
              (batchnorm, "backward", (m, m, m, np.ones(3), np.ones(3, np.float32)))]
    dropout = _backend.load("dropout")
    calls += [(dropout, "backward", (np.ones(4), np.zeros(3, bool)))]
    return calls


@pytest.mark.skipif(util._conv is None, reason="compiled kernels not built")
@pytest.mark.parametrize("case", range(len(_uncovered_calls()) if util._conv is not None else 0))
def test_kernels_decline_by_returning_none_and_write_nothing(case):
    # The kernel contract (fastdl/_kernels/README.md): a wrapper given
    # input it does not cover returns None, having written nothing.
    module, name, args = _uncovered_calls()[case]
    before = [a.copy() for a in args if isinstance(a, np.ndarray)]
    assert _entry(module, name)(*args) is None
    after = [a for a in args if isinstance(a, np.ndarray)]
    assert all(same(a, b) for a, b in zip(after, before))


def _conv_and_pool(queue=None):
    x = np.random.default_rng(0).random((8, 3, 10, 10))
    layer = layers.Convolution(np.ones((4, 3, 3, 3)), np.zeros(4))
    layer.backward(layer.forward(x))
    total = float(layers.Pooling(2, 2).forward(x).sum())
    if queue is not None:
        queue.put(total)


@pytest.mark.skipif(util._conv is None, reason="compiled kernels not built")
def test_a_forked_child_does_not_hang():
    old = _backend.load("threads")._set_thread_threshold(1)
    threads = fastdl.get_num_threads()
    try:
        fastdl.set_num_threads(2)
        _conv_and_pool()  # OpenMP's threads now exist in this process
        context = multiprocessing.get_context("fork")
        queue = context.SimpleQueue()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
            child = context.Process(target=_conv_and_pool, args=(queue,))
            child.start()
        child.join(60)
        alive = child.is_alive()
        if alive:
            child.kill()
        assert not alive and child.exitcode == 0
        assert isinstance(queue.get(), float)
    finally:
        _backend.load("threads")._set_thread_threshold(old)
        fastdl.set_num_threads(threads)
