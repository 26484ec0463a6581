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


# NumPy accepts any C int position; its own draw then reads outside the 624
# words (625..: the words after them; 100000, 10**7: a segfault), so there
# is no reference result: fastdl raises, drawing nothing.
@pytest.mark.parametrize("pos", [-1, -624, 625, 700, 100_000, 10**7, 2**31 - 1, -2**31])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_refuses_positions_outside_the_state(pos, dtype):
    at_position(pos)
    before = global_state()
    layer = layers.Dropout(0.5)
    with pytest.raises(ValueError, match=f"position {pos}, outside 0..624"):
        layer.forward(np.ones(10, dtype))
    assert layer.mask is None and same_state(global_state(), before)
