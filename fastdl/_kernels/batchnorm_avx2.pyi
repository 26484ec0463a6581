import numpy as np
import numpy.typing as npt

def forward_train_kernel(
    x: npt.NDArray[np.floating], gamma: npt.NDArray[np.floating], beta: npt.NDArray[np.floating],
    running_mean: npt.NDArray[np.float64], running_var: npt.NDArray[np.float64],
    momentum: float, one_minus_momentum: float,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.floating], npt.NDArray[np.floating],
           npt.NDArray[np.floating], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def forward_test_kernel(
    x: npt.NDArray[np.floating], gamma: npt.NDArray[np.floating], beta: npt.NDArray[np.floating],
    running_mean: npt.NDArray[np.float64], running_var: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]: ...
def backward_kernel(
    dout: npt.NDArray[np.floating], xc: npt.NDArray[np.floating], xn: npt.NDArray[np.floating],
    std: npt.NDArray[np.floating], gamma: npt.NDArray[np.floating],
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.floating], npt.NDArray[np.floating]]: ...
