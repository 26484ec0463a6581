"""MNIST in the book's format, from the first source that has it.

Sources, in the order ``source="auto"`` tries them:

1. IDX files (``.gz`` or raw) in ``data_dir``, then in ``$FASTDL_MNIST_DIR``.
   A directory with only the two test-set files (10,000 images) is split: the
   first 8,000 images train, the last 2,000 test.
2. The user cache directory (``$XDG_CACHE_HOME/fastdl/mnist``, by default
   ``~/.cache/fastdl/mnist``): only files whose SHA-256 is the published one
   are used (each verified once per size and modification time).
3. A download of the four standard files into the cache directory: written to
   a fresh private temporary file, checked against the published SHA-256, then
   renamed into place; every read has a timeout and the whole download a
   deadline. Offline it fails within seconds.
4. The embedded data: the real 10,000-image MNIST test set shipped inside
   fastdl (checked against its SHA-256), split 8,000 train / 2,000 test.

A source that is absent is skipped silently; a source that fails (a damaged
file, a failed download) raises :class:`DatasetError`, and with
``fallback=True`` the next source is tried with a :class:`DataSourceWarning`
naming the failure and the data used instead. Whatever is used is described
by a :class:`MnistSource` (printed unless ``verbose=False``).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
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
EMBEDDED_DIR = Path(__file__).with_name("data")
TEST_ONLY_TRAIN_SIZE = 8000
# The largest MNIST file is 9.9 MB; a mirror sending more is not sending MNIST.
MAX_DOWNLOAD_BYTES = 32 << 20
_CHUNK = 1 << 16
OFFLINE_ADVICE = (f"offline, put the MNIST IDX files in a folder and pass it as data_dir or set ${ENV_DIR}, "
                  "or use the embedded test set (source='embedded')")

# (path, size, mtime_ns) -> SHA-256 of files already hashed in this process.
_verified: dict[tuple[str, int, int], str] = {}


class DownloadError(DatasetError, OSError):
    """The MNIST files could not be downloaded (no network, a mirror that failed, stalled or lied)."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A directory given explicitly holds no MNIST IDX files."""


class DataSourceWarning(UserWarning):
    """A data source failed and another one was used instead."""


@dataclass(frozen=True)
class MnistSource:
    """Where the images came from and how they were split.

    Attributes
    ----------
    kind : str
        ``"idx"``, ``"cache"`` or ``"download"`` (all four files; with
        ``-test-only`` appended when only the 10,000-image test set was there,
        split) or ``"embedded"`` (the test set shipped with fastdl, split).
    location : str
        The directory the data was read from.
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

    def as_dict(self) -> dict:
        """The fields as a JSON-ready dict."""
        return asdict(self)


def cache_dir() -> Path:
    """The user cache directory for MNIST (``$XDG_CACHE_HOME/fastdl/mnist``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastdl" / "mnist"


def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False, *,
               source: str = "auto", data_dir: str | os.PathLike | None = None, fallback: bool = True,
               verbose: bool = True) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
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
        only ``data_dir``; ``"mnist"`` local IDX files, the cache or a
        download, never the embedded data; ``"embedded"`` only the test set
        shipped inside fastdl.
    data_dir : str or os.PathLike, optional
        A directory of IDX files to try first.
    fallback : bool
        If a source fails, warn (:class:`DataSourceWarning`) and try the next
        one. ``False`` raises the first failure instead.
    verbose : bool
        Print the source used.

    Returns
    -------
    tuple
        ``(x_train, t_train), (x_test, t_test)``.

    Raises
    ------
    DatasetError
        If no source delivers MNIST; the message says what failed and what to do.
    """
    data, _ = load_mnist_with_source(normalize, flatten, one_hot_label, source=source, data_dir=data_dir,
                                     fallback=fallback, verbose=verbose)
    return data


def load_mnist_with_source(
        normalize: bool = True, flatten: bool = True, one_hot_label: bool = False, *, source: str = "auto",
        data_dir: str | os.PathLike | None = None, fallback: bool = True, verbose: bool = True,
) -> tuple[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]], MnistSource]:
    """Like :func:`load_mnist`, and also return the :class:`MnistSource` used."""
    images, labels, info = _load_raw(source, data_dir, fallback)
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
        return images.reshape(len(images), 28 * 28)
    return images.reshape(len(images), 1, 28, 28)


def _format_labels(labels, one_hot_label):
    if not one_hot_label:
        return labels
    one_hot = np.zeros((labels.size, 10))
    one_hot[np.arange(labels.size), labels] = 1
    return one_hot


def _load_raw(source, data_dir, fallback):
    """All images and labels, training images first, and the source's description."""
    failures = []
    for read in _readers(source, data_dir):
        try:
            found = read()
        except DatasetError as exc:
            if not fallback:
                raise
            failures.append(exc)
            continue
        if found is None:
            continue
        if failures:
            warnings.warn(f"MNIST: {'; '.join(map(str, failures))}. Using instead: {found[2].description}",
                          DataSourceWarning, stacklevel=4)
        return found
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise DatasetError("no MNIST source worked: " + "; ".join(map(str, failures)))
    raise DatasetNotFoundError(f"{data_dir}: no MNIST IDX files ({', '.join(FILES.values())}, .gz or raw)")


def _readers(source, data_dir):
    """The sources ``source`` names, in order: functions returning the data, or None if absent."""
    if source not in ("auto", "dir", "mnist", "embedded"):
        raise ValueError(f"unknown MNIST source {source!r}; choose auto, dir, mnist or embedded")
    if source == "embedded":
        return [_read_embedded]
    if source == "dir" and data_dir is None:
        raise ValueError('source="dir" needs data_dir')
    readers = [lambda: _read_directory(Path(data_dir))] if data_dir is not None else []
    if source == "dir":
        return readers
    if os.environ.get(ENV_DIR):
        readers.append(lambda: _read_directory(Path(os.environ[ENV_DIR])))
    readers += [lambda: _read_directory(cache_dir(), kind="cache", verify=True), _download_and_read]
    if source == "auto":
        readers.append(_read_embedded)
    return readers


def _download_and_read():
    download_mnist()
    return _read_directory(cache_dir(), kind="download", verify=True)


def _read_embedded():
    """The MNIST test set shipped inside the package, checked against its SHA-256."""
    for key in ("test_images", "test_labels"):
        path = EMBEDDED_DIR / FILES[key]
        if not _has_sha256(path, SHA256[FILES[key]]):
            raise DatasetError(f"{path}: the MNIST test set shipped with fastdl is missing or damaged "
                               "(SHA-256 mismatch); reinstall fastdl")
    return _read_directory(EMBEDDED_DIR, kind="embedded")


def _find_file(directory, gz_name, gz_only):
    names = (gz_name,) if gz_only else (gz_name, gz_name.removesuffix(".gz"))
    for path in (directory / name for name in names):
        if path.is_file():
            return path
    return None


def _read_directory(directory, kind="idx", verify=False):
    """Images, labels and source from ``directory``, or None if it has no MNIST.

    ``verify`` admits only the published ``.gz`` files, each with its SHA-256.
    """
    paths = {key: _find_file(directory, name, gz_only=verify) for key, name in FILES.items()}
    if paths["test_images"] is None or paths["test_labels"] is None:
        return None
    if verify:
        for path in filter(None, paths.values()):
            _check_sha256(path, SHA256[path.name], advice=f"delete it (or the folder {directory}) and a "
                                                          "fresh download will replace it")
    else:
        _verify_listed_checksums(directory)
    test_images, test_labels = _read_pair(paths["test_images"], paths["test_labels"])
    where = "shipped with fastdl" if kind == "embedded" else f"in {directory}"
    if paths["train_images"] is not None and paths["train_labels"] is not None:
        train_images, train_labels = _read_pair(paths["train_images"], paths["train_labels"])
        info = MnistSource(kind, str(directory),
                           f"MNIST IDX files {where}: {len(train_images):,} training + {len(test_images):,} "
                           "test images", len(train_images), len(test_images))
        return (np.concatenate([train_images, test_images]),
                np.concatenate([train_labels, test_labels]), info)
    n = len(test_images)
    train_size = min(TEST_ONLY_TRAIN_SIZE, n * 4 // 5)
    info = MnistSource(kind if kind == "embedded" else f"{kind}-test-only", str(directory),
                       f"the {n:,}-image MNIST test set {where}{'' if kind == 'embedded' else ' (no training files)'}"
                       f", split: its first "
                       f"{train_size:,} images train, its last {n - train_size:,} test",
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
    try:
        lines = sums.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{sums}: cannot read ({exc})") from None
    for line in filter(str.strip, lines):
        fields = line.split(maxsplit=1)
        if len(fields) != 2:
            raise DatasetError(f"{sums}: expected lines of 'SHA-256  file name', got {line!r}")
        path = directory / fields[1].lstrip("*")
        if path.is_file():
            _check_sha256(path, fields[0], advice=f"replace the file or fix {sums}")


def _sha256(path):
    """The SHA-256 of ``path``, hashed once per (size, modification time) in this process."""
    status = os.stat(path)
    key = (str(Path(path).resolve()), status.st_size, status.st_mtime_ns)
    if key not in _verified:
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
        _verified[key] = digest.hexdigest()
    return _verified[key]


def _has_sha256(path, expected):
    try:
        return _sha256(path) == expected
    except OSError:
        return False


def _check_sha256(path, expected, advice):
    try:
        digest = _sha256(path)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if digest != expected:
        raise DatasetError(f"{path}: SHA-256 {digest} does not match the expected {expected}; {advice}")


def download_mnist(*, directory: str | os.PathLike | None = None, mirrors: Sequence[str] | None = None,
                   timeout: float = 10.0, deadline: float = 300.0) -> None:
    """Download the four standard MNIST files and check their SHA-256.

    The book's ``download_mnist()`` (its options are fastdl's, keyword-only).

    Each file is written to a fresh private temporary file beside its target
    (never through a link planted there), checked, and only then renamed into
    place; a failed download leaves nothing behind.

    Parameters
    ----------
    directory : str or os.PathLike, optional
        Where to put them; the user cache directory by default. Files already
        there with the right checksum are kept.
    mirrors : sequence of str, optional
        Base URLs tried in order for each file; ``MIRRORS`` by default.
    timeout : float
        Seconds to wait for a connection or for any one read before giving up.
    deadline : float
        Seconds for the whole download; it ends at most ``timeout`` later.

    Raises
    ------
    DownloadError
        If the directory cannot be created or no mirror delivers a file with
        the published SHA-256 before the deadline (for example, offline).
    """
    directory = Path(directory) if directory is not None else cache_dir()
    mirrors = MIRRORS if mirrors is None else mirrors
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{directory}: cannot create the download folder ({exc.strerror or exc}); set "
                            f"XDG_CACHE_HOME to a writable folder, or {OFFLINE_ADVICE}") from None
    end = time.monotonic() + deadline
    for name, expected in SHA256.items():
        target = directory / name
        if _has_sha256(target, expected):
            continue
        errors = []
        for mirror in mirrors:
            try:
                _download(mirror + name, target, expected, timeout, end)
                break
            except DownloadError as exc:
                errors.append(str(exc))
        else:
            raise DownloadError(f"could not download {name} into {directory} ({'; '.join(errors)}); "
                                f"{OFFLINE_ADVICE}")


def init_mnist(*, directory: str | os.PathLike | None = None, mirrors: Sequence[str] | None = None,
               timeout: float = 10.0, deadline: float = 300.0) -> None:
    """Get MNIST ready for :func:`load_mnist`, as the book's ``init_mnist()``.

    The book downloads the four IDX files and converts them once into a
    pickle that its ``load_mnist`` reads. fastdl reads the IDX files
    themselves, so this only downloads and checks them into the cache
    (:func:`download_mnist`, same options) and writes no pickle.
    """
    download_mnist(directory=directory, mirrors=mirrors, timeout=timeout, deadline=deadline)


def _download(url, target, expected, timeout, end):
    """Fetch ``url`` into ``target`` through a private temporary file; DownloadError on any failure."""
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise DownloadError(f"{target.parent}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as file:
            digest, size, declared = _fetch(url, file, timeout, end)
        if declared is not None and size != declared:
            raise DownloadError(f"{url}: the connection closed after {size:,} of {declared:,} bytes")
        if digest != expected:
            raise DownloadError(f"{url}: SHA-256 {digest} does not match the published {expected}")
        os.replace(temporary, target)
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise DownloadError(f"{url}: {getattr(exc, 'reason', None) or exc!r}") from None
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def _fetch(url, file, timeout, end):
    """Stream ``url`` into ``file``; its SHA-256, its size and the size the server announced."""
    digest, size = hashlib.sha256(), 0
    with urllib.request.urlopen(url, timeout=max(min(timeout, end - time.monotonic()), 0.1)) as response:
        length = response.headers.get("Content-Length")
        declared = int(length) if length and length.isdigit() else None
        while chunk := response.read1(_CHUNK):
            size += len(chunk)
            if size > MAX_DOWNLOAD_BYTES or (declared is not None and size > declared):
                raise DownloadError(f"{url}: more data than {'announced' if declared else 'any MNIST file'}")
            if time.monotonic() > end:
                raise DownloadError(f"{url}: not complete by the download deadline ({size:,} bytes so far)")
            digest.update(chunk)
            file.write(chunk)
    return digest.hexdigest(), size, declared
