"""fastdl's memory pool for the arrays of its layers (``fastdl/_kernels/memory.pyx``).

While a method wrapped by ``pooled`` runs, NumPy allocates array data from
the pool: the method's results and its temporaries (``np.dot``'s included).
Each array returns its memory to the pool when it is freed, wherever that
happens, and the next large array of about the same size reuses it instead
of taking fresh pages from the system. See ``configure_memory``.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from fastdl import _backend

_memory = _backend.load("memory")

F = TypeVar("F", bound=Callable[..., Any])


def pooled(method: F) -> F:
    """``method``, allocating from the pool while it runs (``method`` itself without the kernel)."""
    if _memory is None:
        return method
    install, restore = _memory.install, _memory.restore

    @functools.wraps(method)
    def with_pool(*args: Any, **kwargs: Any) -> Any:
        previous = install()
        try:
            return method(*args, **kwargs)
        finally:
            restore(previous)
    return with_pool  # type: ignore[return-value]


def release_memory() -> None:
    """Give every block the pool holds back to the system now.

    The pool only holds memory of arrays that were freed; arrays still in
    use are not affected.
    """
    if _memory is not None:
        _memory.release()


def configure_memory(cap_bytes: int | None = None, min_bytes: int | None = None,
                     idle_seconds: int | None = None) -> dict[str, int]:
    """Set the memory pool's limits; return them with its state.

    Parameters
    ----------
    cap_bytes : int, optional
        Most bytes the pool keeps for reuse (default 512 MiB, or the
        environment variable ``FASTDL_MEMORY_CAP``); 0 keeps nothing, so
        every array's memory goes back to the system when it is freed.
    min_bytes : int, optional
        Arrays smaller than this (default 256 KiB) use the system allocator
        directly.
    idle_seconds : int, optional
        A block not reused for this long (default 10) is given back at the
        pool's next use.

    Returns
    -------
    dict
        ``cap_bytes``, ``min_bytes``, ``idle_seconds``, ``cached_bytes``,
        ``cached_blocks`` and ``reuses`` (how many blocks were handed out
        again so far). All zero-valued state without the compiled kernels.
    """
    if _memory is None:
        return {"cap_bytes": 0, "min_bytes": 0, "idle_seconds": 0,
                "cached_bytes": 0, "cached_blocks": 0, "reuses": 0}
    return _memory.configure(cap_bytes, min_bytes, idle_seconds)


def _cap_from_environment() -> None:
    value = os.environ.get("FASTDL_MEMORY_CAP")
    if value is None or _memory is None:
        return
    try:
        cap = int(value)
    except ValueError:
        raise ValueError(f"FASTDL_MEMORY_CAP must be a number of bytes, not {value!r}") from None
    configure_memory(cap_bytes=cap)


_cap_from_environment()
