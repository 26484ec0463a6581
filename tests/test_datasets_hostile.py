"""fastdl.datasets against hostile input: crafted files, lying or stalling mirrors, planted links.

Every case ends in the package's own error (``DatasetError`` or its subclass
``DownloadError``) within bounded time and memory. Mirrors are servers on
127.0.0.1 started here; nothing touches the network.
"""
import gzip
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from fastdl.datasets import DatasetError, DataSourceWarning, DownloadError, load_mnist, load_mnist_with_source
from fastdl.datasets import mnist, read_idx

IMAGES = "t10k-images-idx3-ubyte.gz"


def idx_header(type_code, shape):
    return bytes([0, 0, type_code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


@pytest.fixture
def mirror():
    """Start a one-file HTTP mirror on 127.0.0.1 that answers with ``behave(connection)``."""
    servers = []

    def start(behave):
        listener = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()

        def serve():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except OSError:
                    continue
                with connection:
                    connection.recv(65536)
                    try:
                        behave(connection, stop)
                    except OSError:
                        pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        servers.append((listener, stop, thread))
        return f"http://127.0.0.1:{listener.getsockname()[1]}/"

    yield start
    for listener, stop, thread in servers:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.fixture
def empty_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(mnist.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist, "MIRRORS", ("http://127.0.0.1:9/",))


def test_gzip_bomb_stops_at_the_declared_size(tmp_path):
    """Item 1: 10 images declared, 1 GiB of zeros behind them: small memory, quick error."""
    bomb = tmp_path / IMAGES
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip container
    zeros = bytes(1 << 20)
    with open(bomb, "wb") as file:
        file.write(compressor.compress(idx_header(0x08, (10, 28, 28))))
        for _ in range(1024):
            file.write(compressor.compress(zeros))
        file.write(compressor.flush())
    script = (
        "import resource, sys, time\n"
        "from fastdl.datasets import DatasetError, read_idx\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "start = time.perf_counter()\n"
        "try:\n    read_idx(sys.argv[1])\nexcept DatasetError as exc:\n    print(exc)\n"
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(bomb)], capture_output=True, text=True, timeout=60)
    message, numbers = done.stdout.strip().splitlines()
    seconds, extra_kib = numbers.split()
    assert "trailing bytes" in message and str(bomb) in message
    assert float(seconds) < 2 and int(extra_kib) < 50 * 1024


def test_huge_declared_dimensions_do_not_wrap_around(tmp_path):
    """Item 7: 65536**4 elements wrapped to 0 in int64 and ended in a bare reshape error."""
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 4]) + (65536).to_bytes(4, "big") * 4)
    with pytest.raises(DatasetError, match="declares shape"):
        read_idx(path)
    path.write_bytes(idx_header(0x0E, (2**31, 2**31)))
    with pytest.raises(DatasetError, match="more than"):
        read_idx(path)


def test_unreadable_file_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(tmp_path)


def test_cached_files_of_the_wrong_content_are_not_used(tmp_path, empty_sources):
    """Item 2: valid IDX files in the cache that are not MNIST."""
    cache = mnist.cache_dir()
    cache.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in mnist.FILES.values():
        shape = (5, 28, 28) if "images" in name else (5,)
        array = rng.integers(0, 10, shape, dtype=np.uint8)
        (cache / name).write_bytes(gzip.compress(idx_header(0x08, shape) + array.tobytes()))
    with pytest.raises(DatasetError, match="SHA-256 .* does not match.*delete it"):
        load_mnist(source="mnist", fallback=False, verbose=False)
    with pytest.warns(DataSourceWarning, match="does not match"):
        _, source = load_mnist_with_source(verbose=False)
    assert source.kind == "embedded"


def test_a_cached_file_changed_after_verification_is_verified_again(tmp_path, monkeypatch, empty_sources):
    cache = mnist.cache_dir()
    cache.mkdir(parents=True)
    for key in ("test_images", "test_labels"):
        (cache / mnist.FILES[key]).write_bytes((mnist.EMBEDDED_DIR / mnist.FILES[key]).read_bytes())
    hashed = []
    original = mnist.hashlib.sha256
    monkeypatch.setattr(mnist.hashlib, "sha256", lambda *a: hashed.append(1) or original(*a))
    assert load_mnist_with_source(source="mnist", verbose=False)[1].kind == "cache-test-only"
    count = len(hashed)
    load_mnist(source="mnist", verbose=False)
    assert len(hashed) == count  # remembered by size and modification time
    labels = cache / mnist.FILES["test_labels"]
    damaged = bytearray(labels.read_bytes())
    damaged[-12] ^= 1
    labels.write_bytes(bytes(damaged))
    os.utime(labels, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(DatasetError, match="does not match"):
        load_mnist(source="mnist", fallback=False, verbose=False)


def test_mirror_that_closes_early_is_a_download_error(tmp_path, monkeypatch, mirror, empty_sources):
    """Item 3: Content-Length 100000, 10 bytes sent, connection closed."""
    def liar(connection, stop):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789")

    url = mirror(liar)
    with pytest.raises(DownloadError, match="closed after 10 of 100,000 bytes"):
        mnist.download_mnist(directory=tmp_path / "files", mirrors=(url,), timeout=5)
    assert not list((tmp_path / "files").iterdir())
    monkeypatch.setattr(mnist, "MIRRORS", (url,))
    with pytest.warns(DataSourceWarning, match="closed after 10"):
        _, source = load_mnist_with_source(verbose=False)
    assert source.kind == "embedded"


def test_mirror_that_trickles_meets_the_overall_deadline(tmp_path, mirror):
    """Item 4: one byte every 0.5 s never trips a per-read timeout; the deadline ends it."""
    def trickle(connection, stop):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        while not stop.wait(0.5):
            connection.sendall(b"x")

    url = mirror(trickle)
    start = time.monotonic()
    with pytest.raises(DownloadError, match="deadline"):
        mnist.download_mnist(directory=tmp_path, mirrors=(url,), timeout=2, deadline=2)
    assert time.monotonic() - start < 6
    assert not list(tmp_path.iterdir())


def test_mirror_that_sends_too_much_is_cut_off(tmp_path, mirror, monkeypatch):
    monkeypatch.setattr(mnist, "MAX_DOWNLOAD_BYTES", 1000)

    def flood(connection, stop):
        connection.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        while not stop.is_set():
            connection.sendall(bytes(4096))

    with pytest.raises(DownloadError, match="more data than any MNIST file"):
        mnist.download_mnist(directory=tmp_path, mirrors=(mirror(flood),), timeout=2)


def test_download_never_writes_through_a_planted_link(tmp_path, monkeypatch):
    """Item 5: a symlink at the old temporary name, and at the target, pointing at a victim file."""
    mirror_dir, cache = tmp_path / "mirror", tmp_path / "cache"
    mirror_dir.mkdir()
    cache.mkdir()
    payloads = {name: f"payload of {name}".encode() for name in mnist.SHA256}
    for name, payload in payloads.items():
        (mirror_dir / name).write_bytes(payload)
    monkeypatch.setattr(mnist, "SHA256", {n: hashlib.sha256(p).hexdigest() for n, p in payloads.items()})
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    for name in payloads:
        for planted in (f"{name}.part", name.removesuffix(".gz") + ".part", f".{name}.part"):
            (cache / planted).symlink_to(victim)
    (cache / IMAGES).symlink_to(victim)
    mnist.download_mnist(directory=cache, mirrors=(mirror_dir.as_uri() + "/",))
    assert victim.read_bytes() == b"precious"
    assert not (cache / IMAGES).is_symlink() and (cache / IMAGES).read_bytes() == payloads[IMAGES]


def test_cache_home_that_is_a_file(tmp_path, monkeypatch):
    """Item 6: XDG_CACHE_HOME names a regular file."""
    monkeypatch.delenv(mnist.ENV_DIR, raising=False)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    with pytest.raises(DownloadError, match="cannot create the download folder.*XDG_CACHE_HOME"):
        load_mnist(source="mnist", verbose=False)
    with pytest.warns(DataSourceWarning, match="Using instead"):
        _, source = load_mnist_with_source(verbose=False)
    assert source.kind == "embedded"


@pytest.mark.parametrize("sums", ["just-one-field\n", "\xff\xfe"])
def test_malformed_checksum_list_is_a_dataset_error(tmp_path, sums):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_header(0x08, (1, 28, 28)) + bytes(784))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_header(0x08, (1,)) + bytes(1))
    (tmp_path / "SHA256SUMS").write_bytes(sums.encode("latin-1"))
    with pytest.raises(DatasetError, match="SHA256SUMS"):
        load_mnist(source="dir", data_dir=tmp_path, verbose=False)


def test_out_of_memory_is_a_dataset_error(tmp_path):
    """A header declaring 512 MiB of real data, read under a 400 MiB address-space limit."""
    resource = pytest.importorskip("resource")
    path = tmp_path / IMAGES
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as file:
        file.write(compressor.compress(idx_header(0x08, (512, 1024, 1024))))
        file.writelines(compressor.compress(bytes(1 << 20)) for _ in range(512))
        file.write(compressor.flush())
    script = (
        "import resource, sys\n"
        "from fastdl.datasets import DatasetError, read_idx\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
        "used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + (400 << 20), hard))\n"
        "try:\n    read_idx(sys.argv[1])\nexcept DatasetError as exc:\n    print(exc)\n"
    )
    if not hasattr(resource, "RLIMIT_AS") or not Path("/proc/self/statm").exists():
        pytest.skip("needs RLIMIT_AS and /proc")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=120)
    assert "not enough memory" in done.stdout, done.stderr
