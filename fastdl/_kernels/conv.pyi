import numpy as np
import numpy.typing as npt

# Every entry point returns None for input it does not cover (the caller
# then runs the reference), having written nothing.

def im2col(
    x_: object, filter_h: object, filter_w: object, stride: object, pad: object,
) -> npt.NDArray[np.float64] | None: ...
def col2im(
    col_: object, input_shape: object, filter_h: object, filter_w: object, stride: object, pad: object,
) -> npt.NDArray[np.float64] | None: ...
def conv_forward(
    x_: object, W_: object, b_: object, stride: object, pad: object,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.floating]] | None: ...
def conv_backward(
    dout_: object, col_: object, col_W_: object, input_shape: object,
    filter_h: object, filter_w: object, stride: object, pad: object, input_gradient: bool,
) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.floating], npt.NDArray[np.floating]] | None: ...
def pool_forward(
    x_: object, pool_h: object, pool_w: object, stride: object, pad: object,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]] | None: ...
def pool_backward(
    dout_: object, arg_max_: object, input_shape: object,
    pool_h: object, pool_w: object, stride: object, pad: object,
) -> npt.NDArray[np.float64] | None: ...
