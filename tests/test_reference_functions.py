"""The rest of the book's common/functions.py and common/gradient.py, on hand-computed cases."""
import numpy as np
import pytest

from fastdl import functions, gradient
from fastdl.reference.functions import (
    identity_function, relu_grad, sigmoid, sigmoid_grad, softmax_loss, step_function, sum_squared_error,
)
from fastdl.reference.gradient import numerical_gradient, numerical_gradient_2d
from fastdl.reference.layers import SoftmaxWithLoss


def test_the_public_modules_are_the_references():
    from fastdl.reference import functions as ref_functions, gradient as ref_gradient
    for public, ref in ((functions, ref_functions), (gradient, ref_gradient)):
        assert public.__all__ == ref.__all__
        assert all(getattr(public, name) is getattr(ref, name) for name in ref.__all__)


def test_identity_function_returns_its_argument():
    x = np.array([1.0, -2.0])
    assert identity_function(x) is x


def test_step_function_is_one_above_zero_as_integers():
    out = step_function(np.array([-1.5, -0.0, 0.0, 1e-300, 3.0]))
    assert out.tolist() == [0, 0, 0, 1, 1] and out.dtype == np.dtype(int)
    assert step_function(2.0).tolist() == 1  # a Python number gives a 0-d array


def test_sigmoid_grad():
    assert sigmoid_grad(np.array([0.0])).tolist() == [0.25]
    x = np.array([-3.0, 1.0, 40.0])
    s = sigmoid(x)
    assert np.array_equal(sigmoid_grad(x), (1.0 - s) * s)


def test_relu_grad_is_one_from_zero_on_in_the_input_dtype():
    assert relu_grad(np.array([-1.0, -0.0, 0.0, 2.0])).tolist() == [0.0, 1.0, 1.0, 1.0]  # -0.0 >= 0
    out = relu_grad(np.array([[-2, 0], [5, -1]]))
    assert out.tolist() == [[0, 1], [1, 0]] and out.dtype == np.dtype(int)
    assert relu_grad(np.array([1.0], np.float32)).dtype == np.float32


def test_sum_squared_error_is_half_the_sum_over_the_whole_batch():
    assert sum_squared_error(np.array([0.5, 0.25]), np.array([0, 1])) == 0.5 * (0.25 + 0.5625)
    assert sum_squared_error(np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2))) == 15.0  # not a mean


@pytest.mark.parametrize("t", [np.array([1, 0]), np.array([[0, 1], [1, 0]])])
def test_softmax_loss_is_softmax_with_losss_forward(t):
    X = np.array([[0.0, 0.0], [2.0, 2.0]])  # both rows give probabilities (0.5, 0.5)
    assert softmax_loss(X, t) == -np.log(0.5 + 1e-7)
    assert softmax_loss(X, t) == SoftmaxWithLoss().forward(X, t)


def test_numerical_gradient_2d_takes_each_row_in_turn():
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    seen = []

    def f(x):
        seen.append(x.shape)
        return np.sum(x ** 2)

    grad = numerical_gradient_2d(f, X)
    assert seen == [(2,)] * 8  # called with the row, twice per element
    assert np.allclose(grad, [[2.0, 4.0], [6.0, -2.0]], rtol=1e-9, atol=0)  # central differences of a square
    assert X.tolist() == [[1.0, 2.0], [3.0, -1.0]]  # restored
    assert np.array_equal(numerical_gradient_2d(lambda x: np.sum(x ** 2), np.array([1.0, 2.0])), grad[0])


def test_numerical_gradient_of_any_shape():
    x = np.arange(6.0).reshape(1, 2, 3)
    grad = numerical_gradient(lambda x: np.sum(x ** 2), x)
    assert grad.shape == (1, 2, 3) and np.allclose(grad, 2 * x, rtol=1e-9, atol=1e-9)
    assert x.tolist() == np.arange(6.0).reshape(1, 2, 3).tolist()


def test_the_two_gradients_move_a_float32_element_as_the_book_does():
    # numerical_gradient adds h in the element's dtype: float32(-1e-4) + h is
    # exactly 0 in float32; numerical_gradient_2d adds h to the element as a
    # Python float and rounds the sum once, which leaves float32's error of 1e-4.
    x = np.array([-1e-4], np.float32)
    moved_up = []

    def f(x):
        moved_up.append(x[0])
        return 0.0

    numerical_gradient(f, x)
    assert moved_up[0] == 0.0
    moved_up.clear()
    numerical_gradient_2d(f, x)
    assert moved_up[0] == np.float32(float(np.float32(-1e-4)) + 1e-4) and moved_up[0] > 0
    assert x.tolist() == [np.float32(-1e-4)]
