"""Convolution and Pooling on every kind of array the book takes: each layout, byte order and dtype.

Each case runs fastdl's layer and the reference's on the same input and
compares every result bit for bit. With ``FASTDL_BOOK_DIR`` set to a
checkout of the book (oreilly-japan/deep-learning-from-scratch), the
book's own ``common.layers`` classes are compared too.
"""
import importlib
import os
import sys

import numpy as np
import pytest

from fastdl import layers, reference, util

BOOK_DIR = os.environ.get("FASTDL_BOOK_DIR")


def same(a, b):
    return (type(a) is type(b) and np.shape(a) == np.shape(b) and np.asarray(a).dtype == np.asarray(b).dtype
            and np.array_equal(a, b, equal_nan=True))


def misaligned(a):
    """A copy of ``a`` whose data starts one byte past an aligned address."""
    buffer = np.zeros(a.nbytes + 1, np.uint8)
    out = np.ndarray(a.shape, a.dtype, buffer=buffer, offset=1)
    out[...] = a
    assert not out.flags.aligned or a.dtype.itemsize == 1
    return out


def strided(a):
    """A view of ``a``'s values with every other element of a larger array skipped."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def transposed(a):
    """``a``'s values in channels-last memory (the reference's own output layout) for images."""
    if a.ndim != 4:
        return np.ascontiguousarray(a.T).T
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def reversed_rows(a):
    flipped = np.ascontiguousarray(a[..., ::-1])
    return flipped[..., ::-1]  # negative strides, the same values


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


LAYOUTS = {
    "C": lambda a: a.copy(),
    "Fortran": np.asfortranarray,
    "misaligned": misaligned,
    "strided": strided,
    "transposed view": transposed,
    "negative strides": reversed_rows,
    "byte-swapped": lambda a: a.astype(a.dtype.newbyteorder("S")),
    "read-only": read_only,
}
DTYPES = ["float64", "float32", "float16", "int64", "int32", "uint8"]


def images(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    x[x < -4] = -0.0
    return x.astype(dtype)


def run_conv(module, x, W, b, dout, stride, pad):
    layer = module.Convolution(W, b, stride, pad)
    out = layer.forward(x)
    dx = layer.backward(dout)
    return out, dx, layer.dW, layer.db


def run_pool(module, x, dout, size, stride, pad):
    layer = module.Pooling(size, size, stride, pad)
    out = layer.forward(x)
    return out, layer.backward(dout), layer.arg_max


@pytest.fixture(scope="module")
def book():
    if not BOOK_DIR:
        return None
    sys.path.insert(0, BOOK_DIR)
    try:
        return importlib.import_module("common.layers")
    finally:
        sys.path.remove(BOOK_DIR)


def assert_all_same(results, expected):
    for got, want in zip(results, expected):
        assert same(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_convolution_takes_what_the_book_takes(book, layout, dtype):
    x = LAYOUTS[layout](images((3, 2, 7, 6), dtype))
    rng = np.random.default_rng(1)
    W = LAYOUTS[layout](rng.standard_normal((4, 2, 3, 3)))
    b = LAYOUTS[layout](rng.standard_normal(4))
    dout = LAYOUTS[layout](rng.standard_normal((3, 4, 4, 3)))
    fast = run_conv(layers, x, W, b, dout, 2, 1)
    ref = run_conv(reference, x, W, b, dout, 2, 1)
    assert_all_same(fast, ref)
    if book is not None:
        assert_all_same(fast, run_conv(book, x, W, b, dout, 2, 1))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling_takes_what_the_book_takes(book, layout, dtype):
    x = LAYOUTS[layout](images((3, 2, 8, 6), dtype))
    dout = LAYOUTS[layout](np.random.default_rng(1).standard_normal((3, 2, 4, 3)))
    fast = run_pool(layers, x, dout, 2, 2, 0)
    assert_all_same(fast, run_pool(reference, x, dout, 2, 2, 0))
    if book is not None:
        assert_all_same(fast, run_pool(book, x, dout, 2, 2, 0))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_im2col_and_col2im_take_any_layout(layout):
    x = LAYOUTS[layout](images((2, 3, 5, 6), "float64"))
    assert same(util.im2col(x, 3, 2, 1, 1), reference.im2col(x, 3, 2, 1, 1))
    col = LAYOUTS[layout](np.random.default_rng(2).standard_normal((2 * 5 * 7, 3 * 3 * 2)))
    assert same(util.col2im(col, x.shape, 3, 2, 1, 1), reference.col2im(col, x.shape, 3, 2, 1, 1))


@pytest.mark.skipif(util._conv is None, reason="compiled kernels not built")
@pytest.mark.parametrize("layout", ["misaligned", "Fortran", "byte-swapped", "strided"])
def test_other_layouts_of_floats_run_the_kernels(monkeypatch, layout):
    # They are read from a C-ordered native copy, not sent to the reference.
    for name in ("forward", "backward"):
        monkeypatch.setattr(reference.Convolution, name, lambda *args: pytest.fail("the reference ran"))
        monkeypatch.setattr(reference.Pooling, name, lambda *args: pytest.fail("the reference ran"))
    x = LAYOUTS[layout](images((2, 3, 6, 6), "float64"))
    conv = layers.Convolution(np.ones((2, 3, 3, 3)), np.zeros(2))
    conv.backward(LAYOUTS[layout](conv.forward(x)))
    pool = layers.Pooling(2, 2, 2)
    pool.backward(LAYOUTS[layout](pool.forward(x)))


def test_disabling_the_one_handle_disables_every_conv_path(monkeypatch):
    monkeypatch.setattr(util, "_conv", None)
    ran = []
    for module, name in ((reference.Convolution, "forward"), (reference.Convolution, "backward"),
                         (reference.Pooling, "forward"), (reference.Pooling, "backward")):
        original = getattr(module, name)

        def spy(*args, original=original, name=f"{module.__name__}.{name}"):
            ran.append(name)
            return original(*args)
        monkeypatch.setattr(module, name, spy)
    x = images((2, 3, 6, 6), "float64")
    conv = layers.Convolution(np.ones((2, 3, 3, 3)), np.zeros(2))
    conv.backward(conv.forward(x))
    pool = layers.Pooling(2, 2, 2)
    pool.backward(pool.forward(x))
    assert ran == ["Convolution.forward", "Convolution.backward", "Pooling.forward", "Pooling.backward"]
    assert type(util.im2col(x, 3, 3)) is np.ndarray


def outcome(step):
    """``step()``'s result, or the type of the exception it raised."""
    try:
        return step()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return type(exc)


@pytest.mark.parametrize("shape", [(0, 2, 5, 5), (2, 0, 5, 5), (2, 2, 0, 5), (2, 2, 1, 5)])
def test_empty_input_fails_or_passes_as_the_reference_does(shape):
    x = np.zeros(shape)
    W, b = np.ones((2, shape[1], 2, 2)), np.zeros(2)
    for make in (lambda m: m.Convolution(W, b).forward(x), lambda m: m.Pooling(2, 2, 2).forward(x)):
        fast = outcome(lambda make=make: make(layers))
        ref = outcome(lambda make=make: make(reference))
        if isinstance(ref, type):
            assert isinstance(fast, type) and issubclass(fast, (ValueError, TypeError, IndexError))
        else:
            assert same(fast, ref)
