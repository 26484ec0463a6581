"""Reading IDX files, the format MNIST is published in (gzip-compressed or raw)."""
import gzip
import zlib

import numpy as np

# IDX type codes (third byte of the magic number) and the big-endian dtypes they name.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


class DatasetError(ValueError):
    """A data file is malformed, truncated, or does not match its checksum."""


def read_idx(path):
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
        If the header is not IDX, or the data is shorter or longer than declared.
    """
    with open(path, "rb") as file:
        raw = file.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DatasetError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    return parse_idx(raw, name=str(path))


def parse_idx(raw, name="<bytes>"):
    """Parse the bytes of an uncompressed IDX file; see :func:`read_idx`."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{name}: not an IDX file (magic number {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DatasetError(f"{name}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions declared)")
    shape = tuple(int(size) for size in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise DatasetError(f"{name}: IDX data {problem}: shape {shape} needs {expected} bytes, found {found}")
    data = np.frombuffer(raw, dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
