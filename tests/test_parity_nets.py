"""fastdl's networks against the reference networks, bit for bit."""
import numpy as np
import pytest

from fastdl import nets
from fastdl.reference import nets as reference_nets

CASES = [
    ("MultiLayerNet", dict(activation="relu", weight_decay_lambda=0.1)),
    ("MultiLayerNet", dict(activation="sigmoid", weight_init_std="xavier")),
    ("MultiLayerNetExtend", dict(use_batchnorm=True, use_dropout=True, dropout_ration=0.2)),
    ("MultiLayerNetExtend", dict(use_batchnorm=True, weight_decay_lambda=0.01)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kwargs", CASES)
def test_gradient_and_loss_match_the_reference(name, kwargs, dtype):
    rng = np.random.default_rng(0)
    x = rng.random((16, 2, 5, 5)).astype(dtype)  # Affine flattens it, as in the book
    t = rng.integers(0, 4, 16)
    results = []
    for module in (nets, reference_nets):
        np.random.seed(7)
        net = getattr(module, name)(50, [12, 12, 12], 4, **kwargs)
        grads = net.gradient(x, t)
        results.append((grads, net.loss(x, t), net.accuracy(x, t)))
    (fast_grads, *fast_rest), (ref_grads, *ref_rest) = results
    assert list(fast_grads) == list(ref_grads)
    for key in ref_grads:
        assert fast_grads[key].dtype == ref_grads[key].dtype
        assert np.array_equal(fast_grads[key], ref_grads[key]), key
    assert fast_rest == ref_rest


def test_first_affine_skips_the_input_gradient(monkeypatch):
    net = nets.MultiLayerNet(6, [5], 3)
    calls = []
    first = net.layers["Affine1"]
    monkeypatch.setattr(first, "backward", lambda dout: calls.append("backward"))
    net.gradient(np.random.randn(4, 6), np.array([0, 1, 2, 0]))
    assert calls == [] and first.dW.shape == (6, 5) and first.db.shape == (5,)
