import numpy as np
import numpy.typing as npt

def forward_stream_kernel(
    x: npt.NDArray[np.floating], ratio: float, bit_generator: np.random.BitGenerator,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.bool_]]: ...
def forward_fast_kernel(
    x: npt.NDArray[np.floating], ratio: float, bit_generator: np.random.BitGenerator,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.bool_]]: ...
def backward_kernel(dout: npt.NDArray[np.floating], mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.floating]: ...
