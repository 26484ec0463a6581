"""Small data helpers of the chapter."""
import numpy as np


def shuffle_dataset(x, t):
    """Shuffle ``x`` and ``t`` with one ``np.random.permutation`` of the first axis."""
    permutation = np.random.permutation(x.shape[0])
    return x[permutation], t[permutation]
