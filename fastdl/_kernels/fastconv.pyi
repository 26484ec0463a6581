from collections.abc import Callable

import numpy as np
import numpy.typing as npt

def im2col_block(
    x: npt.NDArray[np.floating], n0: int, n1: int, FH: int, FW: int, stride: int, pad: int,
    col: npt.NDArray[np.floating],
) -> None: ...
def im2col_planes(
    planes: npt.NDArray[np.floating], H: int, W: int, FH: int, FW: int, pad: int,
    col: npt.NDArray[np.floating],
) -> None: ...
def col2im_block(
    col: npt.NDArray[np.floating], dx: npt.NDArray[np.floating], n0: int, n1: int,
    FH: int, FW: int, stride: int, pad: int,
) -> None: ...
def pool_forward(
    x: npt.NDArray[np.floating], pool_h: int, pool_w: int, stride: int,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.uint8]]: ...
def pool_backward(
    dout: npt.NDArray[np.floating], arg: npt.NDArray[np.uint8], dx: npt.NDArray[np.floating],
    pool_h: int, pool_w: int, stride: int,
) -> None: ...
def gradient_block(
    dout: npt.NDArray[np.floating], relu_out: npt.NDArray[np.floating], masked: bool, n0: int, n1: int,
    block: npt.NDArray[np.floating], db: npt.NDArray[np.float64],
) -> None: ...
def bias_relu_block(
    prod: npt.NDArray[np.floating], b: npt.NDArray[np.floating], n0: int, out: npt.NDArray[np.floating],
) -> None: ...
def bias_relu_pool_block(
    prod: npt.NDArray[np.floating], b: npt.NDArray[np.floating], n0: int, OH: int, OW: int,
    pool_h: int, pool_w: int, stride: int, out: npt.NDArray[np.floating], arg: npt.NDArray[np.uint8],
) -> None: ...
def pool_gradient_block(
    dout: npt.NDArray[np.floating], pooled: npt.NDArray[np.floating], arg: npt.NDArray[np.uint8], n0: int, n1: int,
    OH: int, OW: int, pool_h: int, pool_w: int, stride: int,
    block: npt.NDArray[np.floating], db: npt.NDArray[np.float64],
) -> None: ...
def conv_forward(
    x: npt.NDArray[np.floating], filters: npt.NDArray[np.floating], b: npt.NDArray[np.floating],
    FH: int, FW: int, stride: int, pad: int, col_: npt.NDArray[np.floating], prod_: npt.NDArray[np.floating],
    matmul: Callable[..., object], relu: bool, pool_h: int, pool_w: int, pool_stride: int,
    out: npt.NDArray[np.floating], arg: npt.NDArray[np.uint8],
) -> None: ...
def conv_backward(
    x: npt.NDArray[np.floating], filters: npt.NDArray[np.floating], FH: int, FW: int, stride: int, pad: int,
    col_: npt.NDArray[np.floating], block_: npt.NDArray[np.floating], part_: npt.NDArray[np.floating],
    matmul: Callable[..., object], dW: npt.NDArray[np.float64], db: npt.NDArray[np.float64],
    dout: npt.NDArray[np.floating], gate: npt.NDArray[np.floating], masked: bool, arg: npt.NDArray[np.uint8],
    pool_h: int, pool_w: int, pool_stride: int, dx_: npt.NDArray[np.floating] | None,
    back_filters: npt.NDArray[np.floating] | None, windows_: npt.NDArray[np.floating] | None,
    product_: npt.NDArray[np.floating] | None,
) -> None: ...
