"""Reading IDX files, the format MNIST is published in (gzip-compressed or raw).

Files are untrusted: the data is read incrementally and never beyond the size
the header declares, so a small file that decompresses to gigabytes costs no
more memory than the array it claims to hold.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

# IDX type codes (third byte of the magic number) and the big-endian dtypes they name.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# Largest array an IDX file may declare (the 60,000 MNIST training images need 47 MB).
MAX_IDX_BYTES = 1 << 30


class DatasetError(ValueError):
    """A data set could not be read: missing, malformed, truncated, or failing its checksum.

    The message names the file and what to do next. Every error of
    :mod:`fastdl.datasets` is this type (downloads raise its subclass
    :class:`~fastdl.datasets.DownloadError`).
    """


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file, gzip-compressed or raw, into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip compression is detected from its first bytes, not its name.

    Returns
    -------
    numpy.ndarray
        An array of the shape and dtype the header declares (native byte order).

    Raises
    ------
    DatasetError
        If the file cannot be opened, the header is not IDX, the declared size
        exceeds ``MAX_IDX_BYTES`` or the memory available, or the data is
        shorter or longer than declared.
    """
    try:
        with open(path, "rb") as raw_file:
            if raw_file.read(2) == _GZIP_MAGIC:
                raw_file.seek(0)
                with gzip.GzipFile(fileobj=raw_file) as file:
                    return _read_stream(file, str(path))
            raw_file.seek(0)
            return _read_stream(raw_file, str(path))
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({exc}); "
                           "download the file again") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except MemoryError:
        raise DatasetError(f"{path}: not enough memory for the array its IDX header declares") from None


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file; see :func:`read_idx`."""
    header = _parse_header(raw[:4], name)
    dims = raw[4:4 + 4 * header[1]]
    shape, dtype, expected = _parse_shape(header, dims, name)
    data = raw[4 + len(dims):]
    _check_size(shape, expected, len(data), name)
    return _to_array(data, shape, dtype)


def _read_stream(file, name):
    header = _parse_header(file.read(4), name)
    shape, dtype, expected = _parse_shape(header, file.read(4 * header[1]), name)
    data = bytearray()
    while len(data) < expected:
        chunk = file.read(min(_CHUNK, expected - len(data)))
        if not chunk:
            break
        data += chunk
    # One byte more tells "exactly the declared size" from "trailing bytes" (and
    # makes gzip check its CRC), without reading what follows.
    found = len(data) + len(file.read(1))
    _check_size(shape, expected, found, name)
    return _to_array(data, shape, dtype)


def _parse_header(magic, name):
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise DatasetError(f"{name}: not an IDX file (magic number {bytes(magic).hex() or 'missing'})")
    return magic[2], magic[3]


def _parse_shape(header, dims, name):
    type_code, ndim = header
    if len(dims) < 4 * ndim:
        raise DatasetError(f"{name}: truncated IDX header ({4 + len(dims)} bytes, {ndim} dimensions declared)")
    shape = tuple(int.from_bytes(dims[4 * i:4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = dtype.itemsize
    for size in shape:  # Python integers: a product of huge dimensions cannot wrap around
        expected *= size
    if expected > MAX_IDX_BYTES:
        raise DatasetError(f"{name}: the IDX header declares shape {shape} ({expected:,} bytes), more than "
                           f"the {MAX_IDX_BYTES:,} bytes fastdl reads; the file is damaged or not MNIST")
    return shape, dtype, expected


def _check_size(shape, expected, found, name):
    if found != expected:
        problem = f"truncated: found {found:,} bytes" if found < expected else "has trailing bytes"
        raise DatasetError(f"{name}: IDX data {problem}, shape {shape} needs {expected:,}; "
                           "the file is damaged: download it again")


def _to_array(data, shape, dtype):
    return np.frombuffer(data, dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)
