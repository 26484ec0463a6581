"""The MNIST arrays the experiments share, with where they came from."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastdl.datasets import DatasetError, MnistSource, load_mnist_with_source

# The fewest images the experiments can train and test on (the search holds out 20 % for validation).
MIN_TRAIN_SIZE = 10
MIN_TEST_SIZE = 1


@dataclass(frozen=True)
class ChapterData:
    """Flattened, normalised MNIST (float32 in [0, 1], uint8 labels) and its source."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    source: MnistSource


def load_chapter_data(data="embedded", verbose=True):
    """Load MNIST for the experiments.

    Parameters
    ----------
    data : str
        ``"embedded"`` (the real 10,000-image test set shipped with fastdl,
        split 8,000 / 2,000), ``"mnist"`` (local IDX files, the cache or a
        download) or the path of a directory of IDX files.
    verbose : bool
        Print the source used.

    Raises
    ------
    DatasetError
        If the data cannot be read, or holds too few images to train and test on.
    """
    if data in ("embedded", "mnist"):
        loaded = load_mnist_with_source(source=data, verbose=verbose)
    else:
        loaded = load_mnist_with_source(source="dir", data_dir=Path(data), verbose=verbose)
    ((x_train, t_train), (x_test, t_test)), source = loaded
    if source.train_size < MIN_TRAIN_SIZE or source.test_size < MIN_TEST_SIZE:
        raise DatasetError(f"{source.location}: {source.train_size} training and {source.test_size} test "
                           f"images; the experiments need at least {MIN_TRAIN_SIZE} and {MIN_TEST_SIZE}")
    return ChapterData(x_train, t_train, x_test, t_test, source)
