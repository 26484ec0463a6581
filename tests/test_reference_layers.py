"""The reference layers and functions against SPEC section 2, on small arrays."""
import numpy as np
import pytest

from fastdl.reference import (
    Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss,
    cross_entropy_error, relu, sigmoid, softmax,
)


def test_functions():
    x = np.array([[-1.0, 0.0, 2.0]])
    assert relu(x).tolist() == [[0.0, 0.0, 2.0]]
    assert sigmoid(np.array([0.0])).tolist() == [0.5]
    y = softmax(np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]]))
    e = np.exp([-2.0, -1.0, 0.0])
    assert np.array_equal(y[0], e / e.sum())
    assert np.array_equal(y[1], np.full(3, 1 / 3))  # row max subtracted: no overflow
    t = np.array([2, 0])
    expected = -(np.log(y[0, 2] + 1e-7) + np.log(y[1, 0] + 1e-7)) / 2
    assert cross_entropy_error(y, t) == expected
    assert cross_entropy_error(y, np.eye(3)[t]) == expected
    assert cross_entropy_error(y[0], np.eye(3)[2]) == -np.log(y[0, 2] + 1e-7)


def test_relu_forward_backward():
    layer = Relu()
    x = np.array([[-1.0, 0.0, 3.0]])
    out = layer.forward(x)
    assert out.tolist() == [[0.0, 0.0, 3.0]] and x.tolist() == [[-1.0, 0.0, 3.0]]
    assert layer.mask.tolist() == [[True, True, False]]
    assert layer.backward(np.array([[5.0, 6.0, 7.0]])).tolist() == [[0.0, 0.0, 7.0]]


def test_sigmoid_forward_backward():
    layer = Sigmoid()
    out = layer.forward(np.array([0.0, 1.0]))
    assert np.array_equal(out, 1 / (1 + np.exp(-np.array([0.0, 1.0]))))
    assert np.array_equal(layer.backward(np.array([1.0, 2.0])), np.array([1.0, 2.0]) * (1.0 - out) * out)


def test_affine_keeps_params_by_reference_and_flattens():
    W = np.arange(12.0).reshape(4, 3)
    b = np.array([1.0, 2.0, 3.0])
    layer = Affine(W, b)
    assert layer.W is W and layer.b is b
    x = np.arange(8.0).reshape(2, 2, 2)
    out = layer.forward(x)
    assert np.array_equal(out, x.reshape(2, 4) @ W + b)
    dout = np.ones((2, 3))
    dx = layer.backward(dout)
    assert dx.shape == (2, 2, 2)
    assert np.array_equal(layer.dW, x.reshape(2, 4).T @ dout)
    assert np.array_equal(layer.db, dout.sum(0))


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss(one_hot):
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    t = np.array([2, 1])
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, np.eye(3)[t] if one_hot else t)
    y = softmax(x)
    assert loss == cross_entropy_error(y, t)
    assert np.array_equal(layer.backward(), (y - np.eye(3)[t]) / 2)


def test_dropout_draws_from_the_global_stream():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    layer = Dropout(0.3)
    np.random.seed(5)
    out = layer.forward(x)
    np.random.seed(5)
    mask = np.random.rand(3, 4) > 0.3
    assert np.array_equal(layer.mask, mask) and np.array_equal(out, x * mask)
    assert np.array_equal(layer.backward(np.ones((3, 4))), 1.0 * mask)
    assert np.array_equal(layer.forward(x, train_flg=False), x * (1.0 - 0.3))


def bn_by_hand(x, gamma, beta):
    """Batch norm written out per feature with explicit sums."""
    n = x.shape[0]
    mu = x.sum(0) / n
    xc = x - mu
    var = (xc * xc).sum(0) / n
    std = np.sqrt(var + 1e-6)
    return gamma * (xc / std) + beta, mu, var


def test_batchnorm_training_forward_and_running_stats():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)) * 3 + 1
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    layer = BatchNormalization(gamma, beta, momentum=0.8)
    out = layer.forward(x)
    expected, mu, var = bn_by_hand(x, gamma, beta)
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
    assert layer.running_mean.dtype == np.float64
    np.testing.assert_allclose(layer.running_mean, 0.2 * mu, rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, 0.2 * var, rtol=1e-14)
    assert layer.batch_size == 6 and layer.xc.shape == (6, 4)
    assert layer.gamma is gamma and layer.beta is beta

    previous = layer.running_mean
    layer.forward(x)
    assert layer.running_mean is not previous  # replaced, not updated in place

    test_out = layer.forward(x, train_flg=False)
    xn = (x - layer.running_mean) / np.sqrt(layer.running_var + 10e-7)
    assert np.array_equal(test_out, gamma * xn + beta)


def test_batchnorm_4d_is_per_feature():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 3, 3))
    gamma, beta = np.ones(18), np.zeros(18)
    layer = BatchNormalization(gamma, beta)
    out = layer.forward(x)
    assert out.shape == x.shape and layer.running_mean.shape == (18,)
    expected, _, _ = bn_by_hand(x.reshape(5, 18), gamma, beta)
    np.testing.assert_allclose(out.reshape(5, 18), expected, rtol=1e-13, atol=1e-13)
    assert layer.backward(np.ones_like(x)).shape == x.shape


def test_batchnorm_backward_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    dout = rng.standard_normal((4, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    layer = BatchNormalization(gamma, beta)
    layer.forward(x)
    dx = layer.backward(dout)

    def loss(xv):
        return np.sum(BatchNormalization(gamma, beta).forward(xv) * dout)

    h = 1e-5
    num = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (loss(xp) - loss(xm)) / (2 * h)
    np.testing.assert_allclose(dx, num, atol=1e-7)
    np.testing.assert_allclose(layer.dbeta, dout.sum(0))
    np.testing.assert_allclose(layer.dgamma, (layer.xn * dout).sum(0))
