"""Fast layers against the reference, bit for bit, and against numerical gradients."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastdl import _backend, layers, nets, optim, reference
from fastdl.reference import nets as reference_nets

FLOATS = [np.float32, np.float64]

# The batchnorm builds this machine runs: the baseline, and AVX2 where the CPU has it.
BN_BUILDS = _backend.builds("batchnorm") if layers._batchnorm is not None else [None]


@contextlib.contextmanager
def batchnorm_build(name):
    """Run ``fastdl.layers`` on the batchnorm build ``name`` (None: the one it loaded)."""
    saved = layers._batchnorm
    if name is not None:
        layers._batchnorm = _backend.load(name)
    try:
        yield
    finally:
        layers._batchnorm = saved


def test_the_fastest_batchnorm_build_is_used():
    if layers._batchnorm is None:
        pytest.skip("compiled kernels not built")
    assert layers._batchnorm.__name__ == f"fastdl._kernels.{BN_BUILDS[-1]}"


def same(a, b):
    """Equal values (NaN where NaN), dtype and shape."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def bn_pair(D, dtype, rng, momentum=0.9, param_dtype=None):
    param_dtype = param_dtype or dtype
    gamma = rng.standard_normal(D).astype(param_dtype)
    beta = rng.standard_normal(D).astype(param_dtype)
    return (layers.BatchNormalization(gamma, beta, momentum),
            reference.BatchNormalization(gamma.copy(), beta.copy(), momentum))


BN_ATTRIBUTES = ["xc", "xn", "std", "running_mean", "running_var", "batch_size", "input_shape"]


def assert_bn_step_matches(fast, ref, x, dout, train_flg=True):
    assert same(fast.forward(x, train_flg), ref.forward(x, train_flg))
    for name in BN_ATTRIBUTES:
        assert same(getattr(fast, name), getattr(ref, name)), name
    if train_flg:
        assert same(fast.backward(dout), ref.backward(dout))
        assert same(fast.dgamma, ref.dgamma) and same(fast.dbeta, ref.dbeta)


@st.composite
def bn_cases(draw):
    shape = draw(st.one_of(
        st.tuples(st.integers(1, 40), st.integers(2, 40)),
        st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
    ))
    if int(np.prod(shape[1:])) < 2:
        shape = (shape[0], 2) + shape[2:]
    dtype = draw(st.sampled_from(FLOATS))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    momentum = draw(st.sampled_from([0.9, 0.5, 0.0, 0.99]))
    return shape, dtype, seed, scale, momentum


@pytest.mark.parametrize("build", BN_BUILDS)
@settings(max_examples=60, deadline=None)
@given(bn_cases())
def test_batchnorm_matches_reference_bit_for_bit(build, case):
    shape, dtype, seed, scale, momentum = case
    rng = np.random.default_rng(seed)
    D = int(np.prod(shape[1:]))
    with batchnorm_build(build):
        fast, ref = bn_pair(D, dtype, rng, momentum)
        for _ in range(3):
            x = (rng.standard_normal(shape) * scale + rng.standard_normal()).astype(dtype)
            dout = rng.standard_normal(shape).astype(dtype)
            assert_bn_step_matches(fast, ref, x, dout)
        x = (rng.standard_normal(shape) * scale).astype(dtype)
        assert_bn_step_matches(fast, ref, x, None, train_flg=False)


# (100, 100) and (100, 784) take the backward's fused sweep of the three
# column sums, (256, 1024) (rows 4 or 8 KiB apart) its one loop per sum.
@pytest.mark.parametrize("build", BN_BUILDS)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(100, 100), (256, 1024), (1, 100), (2, 3), (100, 1, 28, 28)])
def test_batchnorm_book_sizes(shape, dtype, build):
    rng = np.random.default_rng(1)
    D = int(np.prod(shape[1:]))
    with batchnorm_build(build):
        fast, ref = bn_pair(D, dtype, rng)
        for train_flg in (True, True, False):
            x = rng.standard_normal(shape).astype(dtype)
            assert_bn_step_matches(fast, ref, x, rng.standard_normal(shape).astype(dtype), train_flg)


@pytest.mark.parametrize("build", BN_BUILDS)
@pytest.mark.parametrize("momentum", [0.9, 0.5, 0.99])
@pytest.mark.parametrize("shape", [(100, 100), (256, 1024), (7, 3), (1, 5)])
def test_batchnorm_of_a_float32_network_trains_in_the_kernel(shape, momentum, build, monkeypatch):
    """A float32 network's layers (dtype=float32) keep float32 running statistics: the kernel updates them."""
    rng = np.random.default_rng(2)
    gamma, beta = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(2))
    fast = layers.BatchNormalization(gamma, beta, momentum, dtype=np.float32)
    ref = reference.BatchNormalization(gamma.copy(), beta.copy(), momentum, dtype=np.float32)
    steps = [tuple(rng.standard_normal(shape).astype(np.float32) for _ in range(2)) for _ in range(3)]
    expected = [(ref.forward(x), ref.running_mean, ref.running_var, ref.backward(dout)) for x, dout in steps]
    with batchnorm_build(build):
        if build is not None:
            monkeypatch.setattr(reference.BatchNormalization, "_forward", lambda *args: pytest.fail("reference ran"))
        for (x, dout), (out, mean, var, dx) in zip(steps, expected):
            assert same(fast.forward(x), out) and same(fast.running_mean, mean) and same(fast.running_var, var)
            assert fast.running_mean.dtype == np.float32
            assert same(fast.backward(dout), dx)


@pytest.mark.parametrize("x_dtype, param_dtype", [(np.float32, np.float64), (np.float64, np.float32),
                                                  (np.int64, np.float64)])
def test_batchnorm_mixed_dtypes_follow_numpy_promotion(x_dtype, param_dtype):
    # The book's nets hold float64 gamma/beta; float32 data promotes exactly as in NumPy.
    rng = np.random.default_rng(2)
    fast, ref = bn_pair(5, param_dtype, rng)
    x = (rng.standard_normal((7, 5)) * 10).astype(x_dtype)
    dout = rng.standard_normal((7, 5))
    assert_bn_step_matches(fast, ref, x, dout)
    assert_bn_step_matches(fast, ref, x, dout, train_flg=False)


@pytest.mark.parametrize("make", [
    lambda x: np.asfortranarray(x),
    lambda x: x[:, ::2],
    lambda x: x[::-1],
])
def test_batchnorm_non_contiguous_input_matches_reference(make):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((30, 24))
    x = make(base)
    fast, ref = bn_pair(x.shape[1], np.float64, rng)
    assert_bn_step_matches(fast, ref, x, make(rng.standard_normal((30, 24))))


def unaligned(a):
    """A C-contiguous copy of ``a`` whose data starts one byte past an aligned address."""
    buffer = np.zeros(a.nbytes + 1, np.uint8)
    out = np.frombuffer(buffer.data, a.dtype, a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned and out.flags.c_contiguous
    return out


@pytest.mark.parametrize("layout", ["byteswapped", "unaligned"])
def test_layers_on_byteswapped_and_unaligned_arrays_match_the_reference(layout):
    rng = np.random.default_rng(23)
    make = (lambda a: a.astype(a.dtype.newbyteorder())) if layout == "byteswapped" else unaligned
    x, dout = make(rng.standard_normal((9, 6))), make(rng.standard_normal((9, 6)))
    fast = layers.BatchNormalization(make(np.ones(6)), make(np.zeros(6)))
    ref = reference.BatchNormalization(make(np.ones(6)), make(np.zeros(6)))
    assert_bn_step_matches(fast, ref, x, dout)
    assert_bn_step_matches(fast, ref, x, dout, train_flg=False)
    results = []
    for layer in (reference.Dropout(0.3), layers.Dropout(0.3)):
        np.random.seed(24)
        results.append((layer.forward(x), layer.mask, layer.backward(dout)))
    assert all(same(a, b) for a, b in zip(*results))
    out = layers.Dropout(0.3, rng=np.random.default_rng(0)).forward(x)
    assert np.array_equal(out[out != 0], x[out != 0])
    relu_f, relu_r = layers.Relu(), reference.Relu()
    assert same(relu_f.forward(x), relu_r.forward(x))
    assert same(relu_f.backward(dout.copy()), relu_r.backward(dout.copy()))


def test_batchnorm_single_feature_and_numpy_scalars_take_the_reference_path():
    rng = np.random.default_rng(4)
    fast, ref = bn_pair(1, np.float64, rng)  # NumPy sums one column pairwise
    x = rng.standard_normal((50, 1))
    assert_bn_step_matches(fast, ref, x, rng.standard_normal((50, 1)))
    fast, ref = bn_pair(4, np.float32, rng, momentum=np.float64(0.9))
    x = rng.standard_normal((6, 4)).astype(np.float32)
    assert_bn_step_matches(fast, ref, x, rng.standard_normal((6, 4)).astype(np.float32))


@pytest.mark.parametrize("dtype", FLOATS)
def test_batchnorm_batch_of_one_and_constant_features_are_finite(dtype):
    # var is 0, so std = sqrt(0 + 1e-6), xn = 0 and out = beta. With one
    # sample dx is 0 as well; with a constant feature of a larger batch dx
    # is about gamma * (dout - mean(dout)) / std: large, finite, no NaN.
    rng = np.random.default_rng(5)
    for x in (rng.standard_normal((1, 6)).astype(dtype), np.full((8, 6), 3.5, dtype)):
        fast, ref = bn_pair(6, dtype, rng)
        dout = rng.standard_normal(x.shape).astype(dtype)
        out = fast.forward(x)
        dx = fast.backward(dout)
        assert np.isfinite(out).all() and np.isfinite(dx).all()
        assert np.all(fast.xn == 0)
        assert np.array_equal(fast.std, np.full(6, np.sqrt(dtype(1e-6)), dtype))
        assert np.array_equal(out, np.broadcast_to(fast.beta, x.shape))
        expected = fast.gamma * (dout - dout.mean(0)) / fast.std
        assert np.allclose(dx, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
        if x.shape[0] == 1:
            assert np.all(dx == 0)
        assert same(out, ref.forward(x)) and same(dx, ref.backward(dout))


@pytest.mark.filterwarnings("ignore:invalid value")
@pytest.mark.parametrize("dtype", FLOATS)
def test_batchnorm_nan_propagates_like_the_reference(dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((9, 4)).astype(dtype)
    x[3, 1] = np.nan
    x[5, 2] = np.inf
    fast, ref = bn_pair(4, dtype, rng)
    assert_bn_step_matches(fast, ref, x, rng.standard_normal((9, 4)).astype(dtype))


def numerical_gradient(f, a, h=1e-6):
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        plus = f()
        a[i] = old - h
        minus = f()
        a[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize("spatial", [False, True])
def test_batchnorm_backward_matches_numerical_gradient(spatial):
    rng = np.random.default_rng(7)
    shape = (3, 2, 2, 3) if spatial else (5, 4)
    D = shape[1] if spatial else int(np.prod(shape[1:]))
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    layer = layers.BatchNormalization(gamma, beta, spatial=spatial)
    x = rng.standard_normal(shape)
    weights = rng.standard_normal(shape)

    def loss():
        return np.sum(layers.BatchNormalization(gamma, beta, spatial=spatial).forward(x) * weights)

    layer.forward(x)
    dx = layer.backward(weights.copy())
    assert np.allclose(dx, numerical_gradient(loss, x), rtol=1e-5, atol=1e-7)
    assert np.allclose(layer.dgamma, numerical_gradient(loss, gamma), rtol=1e-5, atol=1e-7)
    assert np.allclose(layer.dbeta, numerical_gradient(loss, beta), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", FLOATS)
def test_spatial_batchnorm_is_the_book_on_channels_last(dtype):
    rng = np.random.default_rng(8)
    N, C, H, W = 4, 3, 5, 2
    gamma, beta = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    fast = layers.BatchNormalization(gamma, beta, spatial=True)
    ref = reference.BatchNormalization(gamma.copy(), beta.copy())
    for train_flg in (True, True, False):
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
        dout = rng.standard_normal((N, C, H, W)).astype(dtype)
        to_rows = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, C)  # noqa: E731
        out = fast.forward(x, train_flg)
        expected = ref.forward(to_rows(x), train_flg).reshape(N, H, W, C).transpose(0, 3, 1, 2)
        assert same(out, expected) and out.flags.c_contiguous
        assert same(fast.running_mean, ref.running_mean) and fast.running_mean.shape == (C,)
        if train_flg:
            assert fast.batch_size == N * H * W
            dx = fast.backward(dout)
            dx_ref = ref.backward(to_rows(dout)).reshape(N, H, W, C).transpose(0, 3, 1, 2)
            assert same(dx, dx_ref) and same(fast.dgamma, ref.dgamma)


def test_spatial_batchnorm_normalises_each_channel():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((8, 3, 4, 4)) * np.array([1.0, 10.0, 100.0])[:, None, None] + 5
    out = layers.BatchNormalization(np.ones(3), np.zeros(3), spatial=True).forward(x)
    assert np.allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    assert np.allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)


@settings(max_examples=40, deadline=None)
@given(shape=st.one_of(st.tuples(st.integers(0, 30), st.integers(1, 30)),
                       st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 5), st.integers(1, 5))),
       dtype=st.sampled_from(FLOATS),
       ratio=st.sampled_from([0.5, 0.2, 0.0, 1.0, 0.999, np.float32(0.3), -0.5, 1.5, float("nan")]),
       seed=st.integers(0, 2**32 - 1))
def test_dropout_draws_the_reference_stream(shape, dtype, ratio, seed):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    dout = np.random.default_rng(seed + 1).standard_normal(shape).astype(dtype)
    fast, ref = layers.Dropout(ratio), reference.Dropout(ratio)
    results = []
    for layer in (ref, fast):
        np.random.seed(seed)
        # An odd number of 32-bit words drawn first: doubles then straddle
        # the generator's regenerations.
        np.random.mtrand._rand._bit_generator.random_raw(seed % 3)
        out = layer.forward(x)
        results.append((out, layer.mask.copy(), layer.backward(dout), np.random.get_state()))
    (out_r, mask_r, dx_r, state_r), (out_f, mask_f, dx_f, state_f) = results
    assert same(out_f, out_r) and same(mask_f, mask_r) and same(dx_f, dx_r)
    assert state_f[0] == state_r[0] and np.array_equal(state_f[1], state_r[1]) and state_f[2:] == state_r[2:]
    assert same(fast.forward(x, train_flg=False), ref.forward(x, train_flg=False))


def test_dropout_stream_over_many_regenerations():
    x = np.random.default_rng(18).standard_normal((301, 97))  # 29,197 doubles: 93 regenerations
    for words in (0, 1):
        results = []
        for layer in (reference.Dropout(0.3), layers.Dropout(0.3)):
            np.random.seed(19)
            np.random.mtrand._rand._bit_generator.random_raw(words)
            results.append((layer.forward(x), layer.mask, np.random.get_state()[1:3]))
        (out_r, mask_r, state_r), (out_f, mask_f, state_f) = results
        assert same(out_f, out_r) and same(mask_f, mask_r)
        assert np.array_equal(state_f[0], state_r[0]) and state_f[1] == state_r[1]


def test_the_inline_mersenne_twister_checks_out():
    if layers._dropout is None:
        pytest.skip("compiled kernels not built")
    assert layers._dropout.mt19937_layout_matches() and layers._global_stream()[1]


@pytest.mark.filterwarnings("ignore:invalid value")
@pytest.mark.parametrize("x", [
    np.asfortranarray(np.arange(24.0).reshape(4, 6)),
    np.arange(24.0).reshape(4, 6)[:, ::2],
    np.arange(12).reshape(3, 4),                      # integers: the reference path
    np.array([[np.nan, -np.inf, -0.0, 2.0]], np.float32),
    np.array(2.5),                                    # 0-D: the reference path
])
def test_dropout_other_layouts_and_dtypes_match_the_reference(x):
    fast, ref = layers.Dropout(0.4), reference.Dropout(0.4)
    np.random.seed(11)
    out_r = ref.forward(x)
    np.random.seed(11)
    out_f = fast.forward(x)
    assert same(out_f, out_r) and same(fast.mask, ref.mask)
    dout = np.ones(x.shape)
    assert same(fast.backward(dout), ref.backward(dout))


def test_dropout_mask_is_usable_as_in_the_book():
    layer = layers.Dropout(0.5)
    x = np.random.default_rng(12).standard_normal((10, 10))
    out = layer.forward(x)
    assert layer.mask.dtype == np.bool_ and np.array_equal(out, x * layer.mask)
    assert np.array_equal(layer.backward(x), x * layer.mask)


@pytest.mark.parametrize("dtype", FLOATS)
def test_dropout_with_a_generator_is_reproducible_and_drops_the_ratio(dtype):
    x = np.random.default_rng(13).standard_normal((300, 301)).astype(dtype)
    a = layers.Dropout(0.3, rng=np.random.default_rng(0))
    b = layers.Dropout(0.3, rng=np.random.default_rng(0))
    state = np.random.get_state()
    out_a, out_b = a.forward(x), b.forward(x)
    assert np.array_equal(np.random.get_state()[1], state[1])  # the global stream is untouched
    assert same(out_a, out_b) and same(a.mask, b.mask) and a.mask.dtype == np.bool_
    assert same(out_a, x * a.mask)
    assert abs(a.mask.mean() - 0.7) < 0.01
    assert same(a.backward(x), x * a.mask)
    assert not np.array_equal(a.forward(x), out_a)  # the generator moved on
    assert layers.Dropout(0.0, rng=np.random.default_rng(1)).forward(x[:50]).tolist() == x[:50].tolist()
    assert not layers.Dropout(1.0, rng=np.random.default_rng(1)).forward(x).any()
    assert same(a.forward(x, train_flg=False), x * (1.0 - 0.3))


@pytest.mark.parametrize("dtype", FLOATS)
def test_relu_matches_reference(dtype):
    x = np.array([[-1.0, -0.0, 0.0, 2.0, np.nan, -np.inf, np.inf]], dtype)
    x = np.concatenate([x, np.random.default_rng(14).standard_normal((5, 7)).astype(dtype)])
    fast, ref = layers.Relu(), reference.Relu()
    out_f, out_r = fast.forward(x), ref.forward(x)
    assert same(out_f, out_r) and same(fast.mask, ref.mask)
    assert np.array_equal(np.signbit(out_f), np.signbit(out_r))
    dout_f, dout_r = np.ones_like(x), np.ones_like(x)
    dx_f = fast.backward(dout_f)
    assert dx_f is dout_f and same(dx_f, ref.backward(dout_r))


def test_relu_other_layouts_match_the_reference():
    x = np.asfortranarray(np.random.default_rng(15).standard_normal((4, 5)))
    fast, ref = layers.Relu(), reference.Relu()
    assert same(fast.forward(x), ref.forward(x)) and same(fast.mask, ref.mask)
    d = np.ones((4, 5))[:, ::-1]
    assert same(fast.backward(d.copy()), ref.backward(d.copy()))


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_training_the_book_network_matches_the_reference(optimizer):
    rng = np.random.default_rng(16)
    x = rng.random((100, 784)).astype(np.float32)
    t = rng.integers(0, 10, 100)
    results = []
    for module in (reference_nets, nets):
        np.random.seed(0)
        net = module.MultiLayerNetExtend(784, [100] * 5, 10, use_batchnorm=True, use_dropout=True)
        opt = getattr(optim, optimizer)()
        for _ in range(3):
            grads = net.gradient(x, t)
            opt.update(net.params, grads)
        results.append((net.params, grads, net.loss(x, t), net.accuracy(x, t), np.random.get_state()[1]))
    (p_r, g_r, loss_r, acc_r, s_r), (p_f, g_f, loss_f, acc_f, s_f) = results
    assert isinstance(net.layers["BatchNorm1"], layers.BatchNormalization)
    assert all(same(p_f[k], p_r[k]) for k in p_r) and all(same(g_f[k], g_r[k]) for k in g_r)
    assert loss_f == loss_r and acc_f == acc_r and np.array_equal(s_f, s_r)


class _Spy:
    """Counts calls to a compiled kernel module's functions."""

    def __init__(self, module):
        self.module, self.calls = module, []

    def __getattr__(self, name):
        function = getattr(self.module, name)

        def spy(*args):
            self.calls.append(name)
            return function(*args)
        return spy


def test_kernels_run_for_the_book_network(monkeypatch):
    if layers._batchnorm is None or layers._dropout is None or layers._activations is None:
        pytest.skip("compiled kernels not built")
    spies = {name: _Spy(getattr(layers, name)) for name in ("_batchnorm", "_dropout", "_activations")}
    for name, spy in spies.items():
        monkeypatch.setattr(layers, name, spy)
    net = nets.MultiLayerNetExtend(20, [10, 10], 3, use_batchnorm=True, use_dropout=True)
    x = np.random.default_rng(17).standard_normal((6, 20))
    net.gradient(x, np.array([0, 1, 2, 0, 1, 2]))
    net.predict(x)
    assert spies["_batchnorm"].calls.count("forward_train") == 2
    assert spies["_batchnorm"].calls.count("backward") == 2
    assert spies["_batchnorm"].calls.count("forward_test") == 2
    assert spies["_dropout"].calls.count("forward_stream") == 2
    assert spies["_dropout"].calls.count("backward") == 2
    assert spies["_activations"].calls.count("relu_forward") == 4
    assert spies["_activations"].calls.count("relu_backward") == 2


def test_batchnorm_never_writes_an_array_it_handed_out():
    rng = np.random.default_rng(20)
    layer = layers.BatchNormalization(np.ones(6), np.zeros(6))
    x, dout = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    handed_out = [layer.forward(x), layer.xc, layer.xn, layer.std, layer.backward(dout)]
    held = [a.copy() for a in handed_out]
    for _ in range(3):
        layer.forward(rng.standard_normal((5, 6)))
        layer.backward(rng.standard_normal((5, 6)))
        assert all(layer.xc is not a and layer.xn is not a for a in handed_out)
    assert all(np.array_equal(a, b) for a, b in zip(handed_out, held))


@pytest.mark.parametrize("spatial", [False, True])
def test_batchnorm_fallback_calls_the_kernel_once(monkeypatch, spatial):
    """float32 input with float64 gamma: the kernel declines once, then the reference runs."""
    if layers._batchnorm is None:
        pytest.skip("compiled kernels not built")
    spy = _Spy(layers._batchnorm)
    monkeypatch.setattr(layers, "_batchnorm", spy)
    shape = (4, 3, 2, 2) if spatial else (8, 5)
    D = 3 if spatial else 5
    x = np.random.default_rng(23).standard_normal(shape).astype(np.float32)
    layer = layers.BatchNormalization(np.ones(D), np.zeros(D), spatial=spatial)
    layer.backward(layer.forward(x))
    layer.forward(x, train_flg=False)
    assert spy.calls == ["forward_train", "backward", "forward_test"]


def test_without_compiled_kernels_the_layers_are_the_reference(monkeypatch):
    for name in ("_batchnorm", "_dropout", "_activations"):
        monkeypatch.setattr(layers, name, None)
    rng = np.random.default_rng(21)
    x, dout = rng.standard_normal((7, 5)), rng.standard_normal((7, 5))
    fast, ref = bn_pair(5, np.float64, rng)
    assert_bn_step_matches(fast, ref, x, dout)
    assert_bn_step_matches(fast, ref, x, dout, train_flg=False)
    results = []
    for layer in (reference.Dropout(0.3), layers.Dropout(0.3)):
        np.random.seed(22)
        results.append((layer.forward(x), layer.backward(dout)))
    assert all(same(a, b) for a, b in zip(*results))
    assert same(layers.Relu().forward(x), reference.Relu().forward(x))
    with pytest.raises(RuntimeError, match="compiled kernels"):
        layers.Dropout(0.3, rng=np.random.default_rng(0)).forward(x)


def test_dropout_follows_a_replaced_global_bit_generator():
    original = np.random.get_bit_generator()
    x = np.random.default_rng(25).standard_normal((40, 30))
    try:
        results = []
        for layer in (reference.Dropout(0.4), layers.Dropout(0.4)):
            np.random.set_bit_generator(np.random.PCG64(26))
            results.append((layer.forward(x), layer.mask, np.random.random()))
        assert all(same(a, b) for a, b in zip(*results))
    finally:
        np.random.set_bit_generator(original)
