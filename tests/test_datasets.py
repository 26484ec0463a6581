"""fastdl.datasets: IDX parsing, the sources of load_mnist, and clear errors.

Tiny IDX files are built here; the real 10,000-image test set is read from
``../shared/data/mnist`` beside the repository when it is there. Nothing here
touches the network: downloads go to ``file://`` URLs or a closed local port.
"""
import gzip
import hashlib
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from fastdl.datasets import (
    DatasetError, DataSourceWarning, DownloadError, load_mnist, load_mnist_with_source, read_idx,
)
from fastdl.datasets import mnist

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def idx_bytes(array):
    """An uncompressed IDX file holding a uint8 array."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx(path, array, compress=True):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)


def make_mnist_dir(directory, n_train=10, n_test=5, compress=True, with_train=True, seed=0):
    """Random 28x28 images and labels 0-9 under the four standard names."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    splits = [("t10k", n_test)] + ([("train", n_train)] if with_train else [])
    for prefix, n in splits:
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
        arrays[prefix] = (images, labels)
    return arrays


def trust_files_in(directory, monkeypatch):
    """Make the files in ``directory`` the published ones, as far as checksums go."""
    sums = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in directory.iterdir()}
    monkeypatch.setattr(mnist, "SHA256", {**mnist.SHA256, **sums})


@pytest.fixture
def no_default_sources(tmp_path, monkeypatch):
    """No environment directory, an empty cache, and mirrors that refuse at once."""
    monkeypatch.delenv(mnist.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "MIRRORS", ("http://127.0.0.1:9/",))


@pytest.mark.parametrize("compress", [True, False])
def test_reads_gzip_and_raw_idx(tmp_path, compress):
    arrays = make_mnist_dir(tmp_path, compress=compress)
    (x_train, t_train), (x_test, t_test), source = _unpack(
        load_mnist_with_source(normalize=False, source="dir", data_dir=tmp_path, verbose=False))
    assert source.kind == "idx" and (source.train_size, source.test_size) == (10, 5)
    assert x_train.dtype == np.uint8 and x_train.shape == (10, 784)
    np.testing.assert_array_equal(x_train, arrays["train"][0].reshape(10, 784))
    np.testing.assert_array_equal(t_test, arrays["t10k"][1])


def test_book_formats(tmp_path):
    arrays = make_mnist_dir(tmp_path)
    (x_train, t_train), _ = load_mnist(normalize=True, flatten=False, one_hot_label=True,
                                       source="dir", data_dir=tmp_path, verbose=False)
    assert x_train.shape == (10, 1, 28, 28) and x_train.dtype == np.float32
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    np.testing.assert_array_equal(x_train[:, 0], arrays["train"][0].astype(np.float32) / np.float32(255.0))
    assert t_train.shape == (10, 10)
    np.testing.assert_array_equal(t_train.argmax(axis=1), arrays["train"][1])
    np.testing.assert_array_equal(t_train.sum(axis=1), 1)


def test_test_set_only_is_split_and_says_so(tmp_path):
    arrays = make_mnist_dir(tmp_path, n_test=10, with_train=False)
    (x_train, t_train), (x_test, t_test), source = _unpack(
        load_mnist_with_source(source="dir", data_dir=tmp_path, verbose=False))
    assert source.kind == "idx-test-only"
    assert (len(x_train), len(x_test)) == (8, 2)
    assert "first 8" in source.description and "last 2" in source.description
    np.testing.assert_array_equal(np.concatenate([t_train, t_test]), arrays["t10k"][1])


def test_environment_variable_then_cache(tmp_path, monkeypatch, no_default_sources):
    make_mnist_dir(tmp_path / "env", seed=1)
    monkeypatch.setenv(mnist.ENV_DIR, str(tmp_path / "env"))
    _, source = load_mnist_with_source(verbose=False)
    assert source.location == str(tmp_path / "env")
    monkeypatch.delenv(mnist.ENV_DIR)
    make_mnist_dir(mnist.cache_dir(), seed=2)
    trust_files_in(mnist.cache_dir(), monkeypatch)
    _, source = load_mnist_with_source(verbose=False)
    assert source.location == str(mnist.cache_dir()) and source.kind == "cache"


def test_argument_directory_comes_first(tmp_path, monkeypatch):
    make_mnist_dir(tmp_path / "arg")
    make_mnist_dir(tmp_path / "env")
    monkeypatch.setenv(mnist.ENV_DIR, str(tmp_path / "env"))
    _, source = load_mnist_with_source(data_dir=tmp_path / "arg", verbose=False)
    assert source.location == str(tmp_path / "arg")


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:-7], "truncated"),
    (lambda raw: raw + b"\0", "trailing"),
    (lambda raw: b"\x00\x00\x07\x03" + raw[4:], "not an IDX file"),
    (lambda raw: raw[:6], "truncated IDX header"),
    (lambda raw: b"", "not an IDX file"),
])
def test_malformed_idx_is_a_clear_error(tmp_path, damage, message):
    path = tmp_path / "file-idx3-ubyte"
    path.write_bytes(damage(idx_bytes(np.zeros((3, 28, 28), np.uint8))))
    with pytest.raises(DatasetError, match=message):
        read_idx(path)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    make_mnist_dir(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetError, match="gzip"):
        load_mnist(source="dir", data_dir=tmp_path, verbose=False)
    assert issubclass(DatasetError, ValueError)


def test_images_and_labels_must_agree(tmp_path):
    make_mnist_dir(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(DatasetError, match="5 images but"):
        load_mnist(source="dir", data_dir=tmp_path, verbose=False)


def test_checksum_listed_beside_the_files_is_checked(tmp_path):
    make_mnist_dir(tmp_path)
    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  t10k-images-idx3-ubyte.gz\n")
    with pytest.raises(DatasetError, match="SHA-256"):
        load_mnist(source="dir", data_dir=tmp_path, verbose=False)


def test_missing_directory_files(tmp_path):
    with pytest.raises(DatasetError, match="no MNIST IDX files"):
        load_mnist(source="dir", data_dir=tmp_path, verbose=False)


def test_download_fails_offline_with_a_clear_error(tmp_path):
    with pytest.raises(DownloadError, match="could not download"):
        mnist.download_mnist(directory=tmp_path, mirrors=("http://127.0.0.1:9/",), timeout=2)


def test_download_never_waits_without_a_timeout(tmp_path, monkeypatch):
    """Every request carries the timeout, so an unreachable mirror cannot hang."""
    timeouts = []

    def offline(url, timeout=None):
        timeouts.append(timeout)
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(mnist.urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError, match="could not download"):
        mnist.download_mnist(directory=tmp_path, mirrors=("http://a.invalid/", "http://b.invalid/"), timeout=3)
    assert timeouts and all(t == 3 for t in timeouts)


def test_download_checks_sha256(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in mnist.SHA256:
        (mirror / name).write_bytes(b"not the real file")
    with pytest.raises(DatasetError, match="does not match"):
        mnist.download_mnist(directory=tmp_path / "cache", mirrors=(mirror.as_uri() + "/",))
    assert not list((tmp_path / "cache").iterdir())


def test_download_keeps_verified_files(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    payloads = {name: name.encode() for name in mnist.SHA256}
    for name, payload in payloads.items():
        (mirror / name).write_bytes(payload)
    trust_files_in(mirror, monkeypatch)
    mnist.download_mnist(directory=tmp_path / "cache", mirrors=(mirror.as_uri() + "/",))
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(payloads)


def test_unknown_source():
    with pytest.raises(ValueError, match="unknown MNIST source"):
        load_mnist(source="cifar")


def test_embedded_is_the_real_test_set_split_8000_2000():
    (x_train, t_train), (x_test, t_test), source = _unpack(load_mnist_with_source(source="embedded", verbose=False))
    assert source.kind == "embedded" and (source.train_size, source.test_size) == (8000, 2000)
    assert "8,000" in source.description and "2,000" in source.description
    assert x_train.shape == (8000, 784) and x_test.shape == (2000, 784) and x_train.dtype == np.float32
    np.testing.assert_array_equal(t_train[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    assert np.bincount(np.concatenate([t_train, t_test])).tolist()[:3] == [980, 1135, 1032]


def test_embedded_files_are_checked_against_their_sha256(tmp_path, monkeypatch):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes((mnist.EMBEDDED_DIR / name).read_bytes())
    with open(tmp_path / "t10k-labels-idx1-ubyte.gz", "r+b") as file:
        file.seek(-12, 2)
        file.write(b"\x00")
    monkeypatch.setattr(mnist, "EMBEDDED_DIR", tmp_path)
    with pytest.raises(DatasetError, match="shipped with fastdl is missing or damaged.*reinstall"):
        load_mnist(source="embedded", verbose=False)


def test_auto_falls_back_to_embedded_offline_with_a_warning(no_default_sources, capsys):
    with pytest.warns(DataSourceWarning, match="could not download.*Using instead: the 10,000-image MNIST test set"):
        _, source = load_mnist_with_source()
    assert source.kind == "embedded"
    assert "8,000" in capsys.readouterr().out


def test_fallback_false_raises_the_failure(no_default_sources):
    with pytest.raises(DownloadError, match="could not download.*FASTDL_MNIST_DIR"):
        load_mnist(fallback=False, verbose=False)


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="../shared/data/mnist is not beside the repository")
def test_real_mnist_test_set_from_shared():
    (x_train, t_train), (x_test, t_test), source = _unpack(
        load_mnist_with_source(normalize=False, source="dir", data_dir=SHARED_MNIST, verbose=False))
    assert source.kind == "idx-test-only"
    assert (x_train.shape, x_test.shape) == ((8000, 784), (2000, 784))
    np.testing.assert_array_equal(t_train[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    assert np.bincount(np.concatenate([t_train, t_test])).tolist()[:3] == [980, 1135, 1032]


def _unpack(loaded):
    (train, test), source = loaded
    return train, test, source


def test_an_empty_test_set_gives_empty_arrays(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))
    (x_train, _), (x_test, _) = load_mnist(source="dir", data_dir=tmp_path, verbose=False)
    assert x_train.shape == x_test.shape == (0, 784)
