import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed_global_numpy_stream():
    """The book draws from the global NumPy stream; fix it for every test."""
    np.random.seed(0)
