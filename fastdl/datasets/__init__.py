"""Data sets of the chapter: MNIST from IDX files, a download, or an embedded subset."""
from fastdl.datasets.idx import DatasetError, parse_idx, read_idx
from fastdl.datasets.mnist import (
    DownloadError, MnistSource, download_mnist, load_mnist, load_mnist_with_source,
)

__all__ = [
    "DatasetError", "DownloadError", "MnistSource", "download_mnist",
    "load_mnist", "load_mnist_with_source", "parse_idx", "read_idx",
]
