"""The reference convolution, pooling and conv nets against SPEC section 6, on small hand-made cases."""
import numpy as np
import pytest

from fastdl.reference import (
    Convolution, DeepConvNet, Dropout, Pooling, SimpleConvNet, col2im, conv_output_size,
    im2col, smooth_curve,
)
from fastdl.reference.layers import Affine


def test_conv_output_size_is_the_books_true_division():
    assert conv_output_size(28, 5) == 24.0
    assert conv_output_size(7, 3, stride=2, pad=1) == 4.0
    assert conv_output_size(6, 3, stride=2) == 2.5


def test_im2col_rows_are_windows_and_columns_channel_then_offsets():
    x = np.arange(18.0).reshape(1, 2, 3, 3)
    col = im2col(x, 2, 2)
    assert col.shape == (4, 8) and col.dtype == np.float64
    # row (oy, ox) = (0, 1): channel 0 then 1, each y-major over the 2x2 window
    assert col[1].tolist() == [1, 2, 4, 5, 10, 11, 13, 14]
    assert col[2].tolist() == [3, 4, 6, 7, 12, 13, 15, 16]


def test_im2col_pads_with_zeros_and_strides():
    x = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    col = im2col(x, 2, 2, stride=2, pad=1)
    # padded image 4x4 with x in the middle; windows at (0,0), (0,2), (2,0), (2,2)
    assert col.tolist() == [[0, 0, 0, 1], [0, 0, 2, 0], [0, 3, 0, 0], [4, 0, 0, 0]]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int32])
def test_im2col_is_float64_whatever_the_input(dtype):
    x = np.array([[[[0.1, -2.5], [65504, 3]]]]).astype(dtype)
    col = im2col(x, 1, 1)
    assert col.dtype == np.float64
    assert col.ravel().tolist() == x.astype(np.float64).ravel().tolist()


def test_col2im_counts_the_windows_over_each_pixel():
    ones = np.ones((4, 4))
    img = col2im(ones, (1, 1, 3, 3), 2, 2)
    assert img.tolist() == [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]
    assert col2im(np.ones((4, 4)), (1, 1, 2, 2), 2, 2, stride=2, pad=1).tolist() == [[[[1, 1], [1, 1]]]]


def test_col2im_adds_in_filter_offset_order_from_plus_zero():
    # Pixel 2 of a 5-pixel column gets three contributions: offset y=0 from
    # window 2, y=1 from window 1, y=2 from window 0, added in that order.
    col = np.zeros((3, 3))
    col[2, 0], col[1, 1], col[0, 2] = 1.0, 1e16, -1e16
    img = col2im(col, (1, 1, 5, 1), 3, 1)
    assert img[0, 0, 2, 0] == 0.0  # (0 + 1) + 1e16 rounds to 1e16; the reverse order gives 1
    minus_zero = col2im(np.full((1, 1), -0.0), (1, 1, 1, 1), 1, 1)
    assert minus_zero[0, 0, 0, 0] == 0 and not np.signbit(minus_zero[0, 0, 0, 0])


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    col = rng.standard_normal(im2col(x, 3, 2, 2, 1).shape)
    assert np.isclose(np.sum(im2col(x, 3, 2, 2, 1) * col), np.sum(x * col2im(col, x.shape, 3, 2, 2, 1)))


def test_convolution_forward_backward_by_hand():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    W = np.ones((1, 1, 2, 2))
    b = np.array([1.0])
    layer = Convolution(W, b)
    out = layer.forward(x)
    assert out.tolist() == [[[[9, 13], [21, 25]]]]  # window sums + 1
    assert layer.col.shape == (4, 4) and layer.col_W.shape == (4, 1)
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    assert layer.db.tolist() == [4]
    assert layer.dW.tolist() == [[[[8, 12], [20, 24]]]]
    assert dx.tolist() == [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]


def test_convolution_reads_W_and_b_at_every_call():
    layer = Convolution(np.ones((1, 1, 1, 1)), np.zeros(1))
    x = np.ones((1, 1, 2, 2))
    layer.W, layer.b = np.full((1, 1, 1, 1), 2.0), np.array([3.0])
    assert layer.forward(x).tolist() == [[[[5, 5], [5, 5]]]]


def test_convolution_backward_weights_skips_dx():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 5, 5))
    full, weights_only = (Convolution(rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), 1, 1)
                          for _ in range(2))
    weights_only.W, weights_only.b = full.W, full.b
    dout = rng.standard_normal(full.forward(x).shape)
    weights_only.forward(x)
    full.backward(dout)
    assert weights_only.backward_weights(dout) is None
    assert np.array_equal(full.dW, weights_only.dW) and np.array_equal(full.db, weights_only.db)


def test_pooling_takes_the_first_maximum_and_routes_the_gradient():
    x = np.array([[[[1.0, 3.0, 2.0, 2.0],
                    [3.0, 0.0, 0.0, 1.0],
                    [-1.0, -2.0, np.nan, 5.0],
                    [-3.0, -1.0, 9.0, np.inf]]]], dtype=np.float32)
    layer = Pooling(2, 2, stride=2)
    out = layer.forward(x)
    assert out.dtype == np.float64 and out.shape == (1, 1, 2, 2)
    assert out[0, 0, 0].tolist() == [3.0, 2.0] and out[0, 0, 1, 0] == -1.0 and np.isnan(out[0, 0, 1, 1])
    assert layer.arg_max.tolist() == [1, 0, 0, 0]  # ties: the first; NaN counts as the maximum
    dx = layer.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    assert dx.tolist() == [[[[0, 10, 20, 0], [0, 0, 0, 0], [30, 0, 40, 0], [0, 0, 0, 0]]]]


def test_pooling_rows_run_over_windows_then_channels():
    x = np.zeros((1, 2, 2, 4))
    x[0, 0, 1, 1] = x[0, 1, 0, 2] = 1.0
    layer = Pooling(2, 2, stride=2)
    layer.forward(x)
    # rows (oy, ox, c): (0,0,0), (0,0,1), (0,1,0), (0,1,1)
    assert layer.arg_max.tolist() == [3, 0, 0, 0]


def test_overlapping_pooling_windows_add_up_in_backward():
    x = np.array([[[[0.0, 5.0, 0.0]]]])
    layer = Pooling(1, 2, stride=1)
    assert layer.forward(x).tolist() == [[[[5.0, 5.0]]]]
    assert layer.backward(np.array([[[[1.0, 2.0]]]])).tolist() == [[[[0.0, 3.0, 0.0]]]]


def test_pooling_stride_defaults_to_the_books_one():
    # The book's common/layers.py (07b1161): Pooling(pool_h, pool_w, stride=2,
    # pad=0); a book script's Pooling(2, 2) tiles the image with its windows.
    from fastdl import layers
    for cls in (Pooling, layers.Pooling):
        layer = cls(2, 2)
        assert (layer.stride, layer.pad) == (2, 0)
        assert layer.forward(np.arange(16.0).reshape(1, 1, 4, 4)).tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
        assert cls(2, 2).forward(np.zeros((2, 3, 8, 8))).shape == (2, 3, 4, 4)


def test_smooth_curve_keeps_length_and_constants():
    assert np.allclose(smooth_curve(np.full(30, 2.0)), 2.0)
    assert len(smooth_curve(np.arange(50.0))) == 50


def test_simple_convnet_layers_and_params():
    np.random.seed(0)
    net = SimpleConvNet()
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,), "W3": (100, 10), "b3": (10,)}
    np.random.seed(0)
    assert np.array_equal(net.params["W1"], 0.01 * np.random.randn(30, 1, 5, 5))
    assert net.layers["Conv1"].W is net.params["W1"]


def test_simple_convnet_gradient_check():
    # The book's ch07/gradient_check.py.
    np.random.seed(0)
    net = SimpleConvNet(input_dim=(1, 10, 10),
                        conv_param={"filter_num": 10, "filter_size": 3, "pad": 0, "stride": 1},
                        hidden_size=10, output_size=10, weight_init_std=0.01)
    X = np.random.rand(100).reshape((1, 1, 10, 10))
    T = np.array([1]).reshape((1, 1))
    grad_num = net.numerical_gradient(X, T)
    grad = net.gradient(X, T)
    for key in grad_num:
        # Central differences across a ReLU kink or a pooling tie miss by ~1e-6.
        assert np.abs(grad[key] - grad_num[key]).mean() < 1e-5, key


def test_accuracy_ignores_the_last_partial_batch_but_counts_it():
    np.random.seed(0)
    net = SimpleConvNet(input_dim=(1, 6, 6), conv_param={"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1},
                        hidden_size=4, output_size=3)
    x = np.random.rand(5, 1, 6, 6)
    predicted = np.argmax(net.predict(x), axis=1)
    assert net.accuracy(x, predicted, batch_size=2) == 4 / 5
    assert net.accuracy(x, np.eye(3)[predicted], batch_size=5) == 1.0


def test_deep_convnet_layers_params_and_scales():
    np.random.seed(0)
    net = DeepConvNet()
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Convolution", "Relu", "Convolution", "Relu", "Pooling"] * 3 + ["Affine", "Relu", "Dropout", "Affine", "Dropout"]
    positions = [i for i, layer in enumerate(net.layers) if isinstance(layer, (Convolution, Affine))]
    assert positions == [0, 2, 5, 7, 10, 12, 15, 18]
    assert [type(net.layers[i]).__name__ for i in (17, 19)] == ["Dropout", "Dropout"]
    assert [net.layers[i].pad for i in (0, 2, 5, 7, 10, 12)] == [1, 1, 1, 2, 1, 1]
    assert net.params["W4"].shape == (32, 32, 3, 3) and net.params["W7"].shape == (1024, 50)
    np.random.seed(0)
    assert np.array_equal(net.params["W1"], np.sqrt(2.0 / 9) * np.random.randn(16, 1, 3, 3))


def test_deep_convnet_train_flg_reaches_dropout_only():
    np.random.seed(0)
    net = DeepConvNet()
    x = np.random.rand(2, 1, 28, 28)
    assert np.array_equal(net.predict(x), net.predict(x))  # test mode: no randomness
    masks = []
    for layer in net.layers:
        if isinstance(layer, Dropout):
            masks.append(layer.mask)
    assert masks == [None, None]
    net.loss(x, np.array([1, 2]))
    assert all(layer.mask is not None for layer in net.layers if isinstance(layer, Dropout))


def test_save_and_load_params_rebind_the_layers(tmp_path):
    np.random.seed(0)
    net = DeepConvNet()
    path = tmp_path / "params.pkl"
    net.save_params(str(path))
    np.random.seed(1)
    other = DeepConvNet()
    other.load_params(str(path))
    for idx, pos in enumerate((0, 2, 5, 7, 10, 12, 15, 18), start=1):
        assert other.layers[pos].W is other.params["W" + str(idx)]
        assert other.layers[pos].b is other.params["b" + str(idx)]
        assert np.array_equal(other.params["W" + str(idx)], net.params["W" + str(idx)])
    simple = SimpleConvNet()
    simple.save_params(str(path))
    loaded = SimpleConvNet(weight_init_std=1.0)
    loaded.load_params(str(path))
    assert loaded.layers["Affine2"].W is loaded.params["W3"]
    assert np.array_equal(loaded.params["W2"], simple.params["W2"])
