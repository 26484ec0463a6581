"""Networks, initial weights, the Trainer and the data helpers (SPEC section 3)."""
import numpy as np
import pytest

from fastdl.reference import (
    MultiLayerNet, MultiLayerNetExtend, Trainer, numerical_gradient, shuffle_dataset,
)
from fastdl.reference.nets import init_scale
from fastdl.reference.optim import NAMES


def test_init_scale():
    assert init_scale("relu", 50) == init_scale("He", 50) == np.sqrt(2.0 / 50)
    assert init_scale("sigmoid", 50) == init_scale("xavier", 50) == np.sqrt(1.0 / 50)
    assert init_scale(0.01, 50) == 0.01


def test_weights_drawn_from_the_global_stream():
    np.random.seed(3)
    net = MultiLayerNet(4, [3], 2, weight_init_std=0.5)
    np.random.seed(3)
    W1 = 0.5 * np.random.randn(4, 3)
    W2 = 0.5 * np.random.randn(3, 2)
    assert np.array_equal(net.params["W1"], W1) and np.array_equal(net.params["W2"], W2)
    assert np.array_equal(net.params["b1"], np.zeros(3))
    assert list(net.params) == ["W1", "b1", "W2", "b2"]


def test_extend_params_and_layers():
    net = MultiLayerNetExtend(4, [3, 3], 2, use_batchnorm=True, use_dropout=True)
    assert set(net.params) == {"W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"}
    assert list(net.layers) == [
        "Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
        "Affine2", "BatchNorm2", "Activation_function2", "Dropout2", "Affine3"]
    assert net.layers["BatchNorm1"].gamma is net.params["gamma1"]
    assert net.layers["Affine2"].W is net.params["W2"]


def test_weight_decay_in_loss():
    x, t = np.random.randn(3, 4), np.array([0, 1, 0])
    plain = MultiLayerNet(4, [5], 2)
    decayed = MultiLayerNet(4, [5], 2, weight_decay_lambda=0.1)
    decayed.params = plain.params
    decayed.layers = plain.layers
    penalty = 0.5 * 0.1 * sum(np.sum(plain.params[k] ** 2) for k in ("W1", "W2"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty, rel=1e-14)


def mean_abs_diff(net, x, t):
    grad_backprop = net.gradient(x, t)
    grad_numerical = net.numerical_gradient(x, t)
    assert set(grad_backprop) == set(grad_numerical)
    return {k: np.mean(np.abs(grad_backprop[k] - grad_numerical[k])) for k in grad_backprop}


@pytest.mark.parametrize("use_batchnorm", [False, True])
@pytest.mark.parametrize("weight_decay_lambda", [0, 0.1])
def test_backprop_matches_numerical_gradient(use_batchnorm, weight_decay_lambda):
    x = np.random.randn(3, 6)
    t = np.array([0, 2, 1])
    net = MultiLayerNetExtend(6, [10, 10], 3, weight_init_std=0.3,
                              weight_decay_lambda=weight_decay_lambda, use_batchnorm=use_batchnorm)
    for key, diff in mean_abs_diff(net, x, t).items():
        assert diff < 1e-6, key


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_multilayernet_backprop_matches_numerical_gradient(activation):
    x = np.random.randn(2, 5)
    t = np.eye(3)[[1, 2]]
    net = MultiLayerNet(5, [4, 4], 3, activation=activation, weight_decay_lambda=0.05)
    for key, diff in mean_abs_diff(net, x, t).items():
        assert diff < 1e-6, key


def test_numerical_gradient_of_a_quadratic():
    x = np.array([3.0, 4.0])
    grad = numerical_gradient(lambda v: np.sum(v ** 2), x)
    np.testing.assert_allclose(grad, [6.0, 8.0], rtol=1e-8)
    assert x.tolist() == [3.0, 4.0]


def synthetic_data(n, d=20, classes=3):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((classes, d)) * 2
    t = rng.integers(0, classes, n)
    return centres[t] + rng.standard_normal((n, d)), t


@pytest.mark.parametrize("optimizer", NAMES)
def test_trainer_loss_falls(optimizer):
    x, t = synthetic_data(300)
    net = MultiLayerNetExtend(20, [30, 30], 3, use_batchnorm=True, use_dropout=True, dropout_ration=0.1)
    lr = {"SGD": 0.1, "Momentum": 0.05, "Nesterov": 0.05, "AdaGrad": 0.05}.get(optimizer, 0.005)
    trainer = Trainer(net, x[:200], t[:200], x[200:], t[200:], epochs=5, mini_batch_size=20,
                      optimizer=optimizer, optimizer_param={"lr": lr}, verbose=False)
    trainer.train()
    assert trainer.max_iter == 50 and len(trainer.train_loss_list) == 50
    assert len(trainer.train_acc_list) == len(trainer.test_acc_list) == 5
    assert np.mean(trainer.train_loss_list[-10:]) < 0.5 * np.mean(trainer.train_loss_list[:5])
    assert trainer.test_acc_list[-1] > 0.8


def test_trainer_rejects_unknown_optimizer():
    x, t = synthetic_data(10)
    with pytest.raises(ValueError, match="unknown optimizer"):
        Trainer(MultiLayerNet(20, [4], 3), x, t, x, t, optimizer="lbfgs")


def test_shuffle_dataset_keeps_pairs():
    x = np.arange(20.0).reshape(10, 2)
    t = np.arange(10)
    np.random.seed(1)
    xs, ts = shuffle_dataset(x, t)
    np.random.seed(1)
    perm = np.random.permutation(10)
    assert np.array_equal(xs, x[perm]) and np.array_equal(ts, t[perm])
    x4 = np.arange(40.0).reshape(10, 1, 2, 2)
    xs4, _ = shuffle_dataset(x4, t)
    assert xs4.shape == x4.shape
