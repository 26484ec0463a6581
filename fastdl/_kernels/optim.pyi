import numpy as np
import numpy.typing as npt

def sgd_update(p: npt.NDArray[np.floating], g: npt.NDArray[np.floating], lr: float) -> None: ...
