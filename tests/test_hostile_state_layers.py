"""Hostile global state and odd scalars: the reference's results or a clear error, never a crash."""
import numpy as np
import pytest

from fastdl import layers, reference


def global_state():
    name, key, pos, has_gauss, gauss = np.random.get_state()
    return name, key.copy(), pos, has_gauss, gauss


def same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def at_position(pos):
    np.random.seed(7)
    np.random.set_state(("MT19937", np.random.get_state()[1], pos, 0, 0.0))


@pytest.mark.parametrize("pos", [0, 1, 623, 624])
@pytest.mark.parametrize("shape", [(10,), (7, 91), (1300,)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_at_the_edge_positions_equals_the_reference(pos, shape, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    results = []
    for layer in (reference.Dropout(0.5), layers.Dropout(0.5)):
        at_position(pos)
        results.append((layer.forward(x), layer.mask, global_state()))
    (out_r, mask_r, state_r), (out_f, mask_f, state_f) = results
    assert np.array_equal(out_f, out_r) and out_f.dtype == out_r.dtype
    assert np.array_equal(mask_f, mask_r) and same_state(state_f, state_r)


def numpy_refuses_position(pos):
    """Whether ``set_state`` itself refuses position ``pos`` (NumPy 2.5 does; 2.0-2.4 accept any C int)."""
    probe = np.random.RandomState(7)
    try:
        probe.set_state(("MT19937", probe.get_state()[1], pos, 0, 0.0))
    except ValueError:
        return True
    return False


# Where NumPy accepts the position, its own draw then reads outside the 624
# words (625..: the words after them; 100000, 10**7: a segfault), so there
# is no reference result: fastdl raises, drawing nothing. Where NumPy
# refuses it, no global state can hold it and there is nothing to test.
@pytest.mark.parametrize("pos", [-1, -624, 625, 700, 100_000, 10**7, 2**31 - 1, -2**31])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_refuses_positions_outside_the_state(pos, dtype):
    if numpy_refuses_position(pos):
        pytest.skip(f"NumPy {np.__version__}'s set_state refuses position {pos} itself: no global state can hold it")
    at_position(pos)
    before = global_state()
    layer = layers.Dropout(0.5)
    with pytest.raises(ValueError, match=f"position {pos}, outside 0..624"):
        layer.forward(np.ones(10, dtype))
    assert layer.mask is None and same_state(global_state(), before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_with_a_longdouble_ratio_just_below_a_draw_equals_the_reference(dtype):
    np.random.seed(3)
    draw = np.random.rand(1)[0]
    below = np.nextafter(np.longdouble(draw), np.longdouble(0))  # float(below) == draw
    x = np.ones(5, dtype)
    results = []
    for layer in (reference.Dropout(below), layers.Dropout(below)):
        np.random.seed(3)
        results.append((layer.forward(x), layer.mask, global_state()))
    (out_r, mask_r, state_r), (out_f, mask_f, state_f) = results
    assert mask_r[0] and np.array_equal(mask_f, mask_r) and np.array_equal(out_f, out_r)
    assert same_state(state_f, state_r)


@pytest.mark.parametrize("ratio", [0, 1, np.float32(0.3), np.float16(0.5), np.int64(0), 0.5])
def test_dropout_with_exact_ratios_equals_the_reference(ratio):
    x = np.random.default_rng(2).standard_normal((4, 33))
    results = []
    for layer in (reference.Dropout(ratio), layers.Dropout(ratio)):
        np.random.seed(5)
        results.append((layer.forward(x), layer.mask))
    assert all(np.array_equal(a, b) for a, b in zip(*results))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [-1.5, 0.0, 2.0])
def test_relu_on_0d_input_has_the_references_types(dtype, value):
    x = np.array(value, dtype)
    fast, ref = layers.Relu(), reference.Relu()
    out_f, out_r = fast.forward(x.copy()), ref.forward(x.copy())
    assert type(out_f) is type(out_r) and type(fast.mask) is type(ref.mask)
    assert out_f == out_r and fast.mask == ref.mask
    dx_f, dx_r = fast.backward(np.array(3.0, dtype)), ref.backward(np.array(3.0, dtype))
    assert type(dx_f) is type(dx_r) and dx_f == dx_r


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizers_on_0d_params_have_the_references_types(name, dtype):
    from fastdl import optim
    from fastdl.reference import optim as reference_optim
    results = []
    for opt in (getattr(optim, name)(), getattr(reference_optim, name)()):
        params = {"w": np.array(1.0, dtype), "W": np.ones(3, dtype)}
        for step in range(3):
            opt.update(params, {"w": np.array(0.5 + step, dtype), "W": np.full(3, 0.25, dtype)})
        state = {n: getattr(opt, n) for n in ("v", "h", "m") if getattr(opt, n, None) is not None}
        results.append((params, state))
    (p_f, s_f), (p_r, s_r) = results
    for k in p_r:
        assert type(p_f[k]) is type(p_r[k]) and np.array_equal(p_f[k], p_r[k])
    for n in s_r:
        for k in s_r[n]:
            assert type(s_f[n][k]) is type(s_r[n][k]), (n, k)
            assert np.array_equal(s_f[n][k], s_r[n][k])
