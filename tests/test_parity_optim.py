"""Fast optimizers against the reference, bit for bit."""
import numpy as np
import pytest

from fastdl import optim, reference


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (3, 5), (2, 3, 4, 5)])
def test_sgd_matches_reference(dtype, shape):
    rng = np.random.default_rng(0)
    p_fast = rng.standard_normal(shape).astype(dtype)
    p_ref = p_fast.copy()
    fast, ref = optim.SGD(lr=0.3), reference.SGD(lr=0.3)
    for _ in range(3):
        g = rng.standard_normal(shape).astype(dtype)
        fast.update({"W": p_fast}, {"W": g})
        ref.update({"W": p_ref}, {"W": g})
    assert p_fast.dtype == p_ref.dtype and np.array_equal(p_fast, p_ref)
