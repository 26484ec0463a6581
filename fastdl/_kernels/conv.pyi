import numpy as np
import numpy.typing as npt

THREAD_THRESHOLD: int

def im2col(
    x: npt.NDArray[np.floating], filter_h: int, filter_w: int, stride: int, pad: int,
) -> npt.NDArray[np.float64]: ...
def col2im(
    col: npt.NDArray[np.float64], input_shape: tuple[int, int, int, int],
    filter_h: int, filter_w: int, stride: int, pad: int,
) -> npt.NDArray[np.float64]: ...
def add_bias_transposed_output(
    prod: npt.NDArray[np.float64], b: npt.NDArray[np.float64], out_h: int, out_w: int,
) -> npt.NDArray[np.float64]: ...
def flatten_output_gradient(
    dout: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def pool_forward(
    x: npt.NDArray[np.floating], pool_h: int, pool_w: int, stride: int, pad: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]] | None: ...
def pool_backward(
    dout: npt.NDArray[np.float64], arg_max: npt.NDArray[np.intp], input_shape: tuple[int, int, int, int],
    pool_h: int, pool_w: int, stride: int, pad: int,
) -> npt.NDArray[np.float64] | None: ...
def _set_thread_threshold(n: int) -> int: ...
