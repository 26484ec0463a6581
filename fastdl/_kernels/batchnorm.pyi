import numpy as np
import numpy.typing as npt

_Array = npt.NDArray[np.floating]
_Array64 = npt.NDArray[np.float64]

def forward_train(
    x_: object, gamma_: object, beta_: object, running_mean_: object, running_var_: object,
    momentum: float, one_minus_momentum: float,
) -> tuple[_Array, _Array, _Array, _Array, _Array64, _Array64] | None: ...
def forward_test(
    x_: object, gamma_: object, beta_: object, running_mean_: object, running_var_: object,
) -> _Array64 | None: ...
def backward(
    dout_: object, xc_: object, xn_: object, std_: object, gamma_: object,
) -> tuple[_Array, _Array, _Array] | None: ...
