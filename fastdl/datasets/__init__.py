"""Data sets of the chapter: MNIST from IDX files, the cache, a download, or the embedded test set."""
from fastdl.datasets.idx import DatasetError, parse_idx, read_idx
from fastdl.datasets.mnist import (
    DatasetNotFoundError, DataSourceWarning, DownloadError, MnistSource, download_mnist, init_mnist, load_mnist,
    load_mnist_with_source,
)

__all__ = [
    "DatasetError", "DatasetNotFoundError", "DataSourceWarning", "DownloadError", "MnistSource",
    "download_mnist", "init_mnist", "load_mnist", "load_mnist_with_source", "parse_idx", "read_idx",
]
