"""Bad input to the fast layers: a clear Python exception, never a crash."""
import numpy as np
import pytest

from fastdl import layers, reference


def bn(D=4, **kwargs):
    return layers.BatchNormalization(np.ones(D), np.zeros(D), **kwargs)


@pytest.mark.parametrize("x", [np.array(1.0), np.ones(4)])
def test_batchnorm_rejects_fewer_than_two_dimensions(x):
    with pytest.raises(ValueError, match="expects"):
        bn().forward(x)


def test_spatial_batchnorm_needs_four_dimensions():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        bn(spatial=True).forward(np.ones((2, 4)))


@pytest.mark.parametrize("name", ["gamma", "beta"])
@pytest.mark.parametrize("length", [3, 5, 1])
def test_batchnorm_rejects_parameters_of_the_wrong_length(name, length):
    layer = bn()
    setattr(layer, name, np.ones(length))
    with pytest.raises(ValueError, match=f"{name} has shape"):
        layer.forward(np.ones((2, 4)))


def test_batchnorm_rejects_running_statistics_of_the_wrong_length():
    layer = layers.BatchNormalization(np.ones(4), np.zeros(4), running_mean=np.zeros(3), running_var=np.zeros(3))
    with pytest.raises(ValueError, match="running_mean has shape"):
        layer.forward(np.ones((2, 4)))


def test_batchnorm_rejects_a_feature_count_that_changed():
    layer = bn(4)
    layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="features"):
        layer.forward(np.ones((2, 5)))


@pytest.mark.parametrize("x", [np.ones((2, 4), complex), np.array([["a"] * 4] * 2), np.ones((2, 4), object)])
def test_batchnorm_rejects_non_real_input(x):
    with pytest.raises(TypeError, match="real numbers"):
        bn().forward(x)


def test_batchnorm_rejects_non_arrays():
    with pytest.raises(TypeError, match="NumPy array"):
        bn().forward([[1.0, 2.0, 3.0, 4.0]])
    layer = bn()
    layer.forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match="NumPy array"):
        layer.backward([[1.0] * 4] * 2)
    layer.gamma = "abcd"
    with pytest.raises(TypeError, match="gamma"):
        layer.forward(np.ones((2, 4)))


def test_batchnorm_dtype_mismatch_follows_numpy_promotion():
    # Not an error: the book's nets pair float64 gamma with any input, and
    # NumPy promotes; the reference's code runs, so results are its own.
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    fast, ref = bn(), reference.BatchNormalization(np.ones(4), np.zeros(4))
    out = fast.forward(x)
    assert out.dtype == np.float64 and np.array_equal(out, ref.forward(x))


def test_batchnorm_backward_before_forward():
    with pytest.raises(RuntimeError, match="before a training forward"):
        bn().backward(np.ones((2, 4)))
    layer = bn()
    layer.forward(np.ones((2, 4)), train_flg=False)
    with pytest.raises(RuntimeError, match="before a training forward"):
        layer.backward(np.ones((2, 4)))


@pytest.mark.parametrize("shape", [(3, 4), (2, 5), (4, 2), (8,), (2, 2, 2)])
def test_batchnorm_backward_with_another_shape(shape):
    layer = bn()
    layer.forward(np.random.default_rng(1).standard_normal((2, 4)))
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones(shape))


def test_batchnorm_backward_after_a_test_pass_of_another_batch_size():
    layer = bn()
    layer.forward(np.random.default_rng(2).standard_normal((2, 4)))
    layer.forward(np.ones((5, 4)), train_flg=False)
    with pytest.raises(ValueError, match="dout"):
        layer.backward(np.ones((5, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_nan_input_gives_nan_not_an_error(dtype):
    x = np.ones((3, 4), dtype)
    x[0, 0] = np.nan
    layer = bn()
    layer.gamma, layer.beta = np.ones(4, dtype), np.zeros(4, dtype)
    with np.errstate(invalid="ignore"):
        out = layer.forward(x)
        dx = layer.backward(np.ones((3, 4), dtype))
    assert np.isnan(out[:, 0]).all() and not np.isnan(out[:, 1:]).any()
    assert np.isnan(dx[:, 0]).all() and np.isnan(layer.running_mean[0])


def test_batchnorm_empty_batch_behaves_like_the_reference():
    fast, ref = bn(), reference.BatchNormalization(np.ones(4), np.zeros(4))
    with np.errstate(invalid="ignore", divide="ignore"), pytest.warns(RuntimeWarning):
        assert fast.forward(np.ones((0, 4))).shape == ref.forward(np.ones((0, 4))).shape == (0, 4)


def test_dropout_backward_before_forward_and_with_another_shape():
    layer = layers.Dropout()
    with pytest.raises(RuntimeError, match="before a training forward"):
        layer.backward(np.ones((2, 3)))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="dout has shape"):
        layer.backward(np.ones((3, 2)))


def test_dropout_rejects_bad_arguments():
    with pytest.raises(TypeError, match="Generator"):
        layers.Dropout(0.5, rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match="float32 and float64"):
        layers.Dropout(0.5, rng=np.random.default_rng(0)).forward(np.ones((2, 3), int))
    with pytest.raises(TypeError, match="NumPy array"):
        layers.Dropout().forward([1.0, 2.0])
    with pytest.raises(TypeError, match="real number"):
        layers.Dropout("0.5").forward(np.ones(3))


def test_dropout_a_replaced_mask_takes_the_reference_path():
    layer = layers.Dropout()
    layer.forward(np.ones((2, 3)))
    layer.mask = layer.mask.astype(np.float64)
    assert np.array_equal(layer.backward(np.full((2, 3), 2.0)), 2.0 * layer.mask)


def test_relu_read_only_dout_fails_like_the_reference():
    x = np.array([[-1.0, 2.0]])
    for layer in (layers.Relu(), reference.Relu()):
        layer.forward(x)
        dout = np.ones((1, 2))
        dout.flags.writeable = False
        with pytest.raises(ValueError):
            layer.backward(dout)


@pytest.mark.parametrize("call", [
    lambda k: k._batchnorm.forward_train(np.ones((2, 3)), np.ones(4), np.ones(3), np.zeros(3), np.zeros(3), 0.9, 0.1),
    lambda k: k._batchnorm.forward_train(np.ones((2, 3), np.float32), np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), 0.9, 0.1),
    lambda k: k._batchnorm.forward_train(np.ones((3, 2)).T, np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), 0.9, 0.1),
    lambda k: k._batchnorm.forward_train(np.ones((2, 3), int), np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), 0.9, 0.1),
    lambda k: k._batchnorm.forward_train(np.ones((2, 3)), 1.0, None, "a", np.zeros(3), 0.9, 0.1),
    lambda k: k._batchnorm.forward_train(np.ones((0, 3)), np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), 0.9, 0.1),
    lambda k: k._batchnorm.forward_train(np.ones(3), np.ones(3), np.ones(3), np.zeros(3), np.zeros(3), 0.9, 0.1),
    lambda k: k._batchnorm.forward_test(np.ones((2, 3)), np.ones(3), np.ones(3), np.zeros(3, np.float32), np.zeros(3)),
    lambda k: k._batchnorm.forward_test([[1.0, 2.0]], np.ones(2), np.ones(2), np.zeros(2), np.zeros(2)),
    lambda k: k._batchnorm.backward(np.ones((2, 3)), np.ones((3, 3)), np.ones((2, 3)), np.ones(3), np.ones(3)),
    lambda k: k._batchnorm.backward(np.ones((2, 3)), None, None, None, None),
])
def test_batchnorm_kernels_decline_what_they_do_not_cover(call):
    # None tells fastdl.layers to run the reference; never a crash.
    if layers._batchnorm is None:
        pytest.skip("compiled kernels not built")
    assert call(layers) is None


@pytest.mark.parametrize("call", [
    lambda k: k._dropout.forward_stream(np.ones((3, 2)).T, 0.5, np.random.mtrand._rand._bit_generator),
    lambda k: k._dropout.forward_fast([1.0, 2.0], 0.5, np.random.PCG64(0)),
    lambda k: k._dropout.backward(np.ones((2, 3)), np.ones((2, 3))),
    lambda k: k._dropout.backward(np.ones((2, 3)), np.ones((3, 2), bool)),
    lambda k: k._activations.relu_forward(np.ones(3, int)),
    lambda k: k._activations.relu_backward(np.ones(3), np.ones(4, bool)),
    lambda k: k._activations.relu_backward(np.ones(3)[::-1], np.ones(3, bool)),
])
def test_kernels_decline_what_they_do_not_cover(call):
    """The one way a kernel declines: it returns None, having written nothing."""
    if layers._dropout is None or layers._activations is None:
        pytest.skip("compiled kernels not built")
    assert call(layers) is None


def test_a_kernel_raises_only_for_a_caller_bug():
    if layers._dropout is None:
        pytest.skip("compiled kernels not built")
    with pytest.raises(ValueError, match="MT19937"):
        layers._dropout.forward_stream(np.ones(3), 0.5, np.random.PCG64(0), True)
