"""Exact or fast: which set of kernels the networks run, per thread and per async task.

``"exact"`` (the default) gives the book's results bit for bit; ``"fast"``
lets ``fastdl.nets`` reorder sums, fuse layers and skip ``col`` (the bounds
are in ``docs/SPEC.md``). The mode lives in a ``ContextVar``: a new thread
starts with the default (or ``FASTDL_MODE``), an asyncio task with a copy
of its creator's. ``FASTDL_MODE`` is read once, at import.
"""
from __future__ import annotations

import contextlib
import os
from contextvars import ContextVar
from typing import Literal, get_args

Mode = Literal["exact", "fast"]
MODES: tuple[str, ...] = get_args(Mode)


def _checked(mode: object) -> str:
    if mode not in MODES:  # also rejects non-strings
        raise ValueError(f"fastdl mode must be one of {', '.join(map(repr, MODES))}, not {mode!r}")
    return mode  # type: ignore[return-value]


_DEFAULT = _checked(os.environ.get("FASTDL_MODE", "exact"))
_current: ContextVar[str] = ContextVar("fastdl_mode", default=_DEFAULT)
# The tokens of the `mode` blocks entered and not yet exited, innermost last, per
# context (a tuple, so that a task or thread never sees another's).
_entered: ContextVar[tuple] = ContextVar("fastdl_mode_entered", default=())


def set_mode(mode: Mode) -> None:
    """Run the networks in ``mode`` (``"exact"`` or ``"fast"``) in the calling thread or task.

    Raises ValueError for any other value.
    """
    _current.set(_checked(mode))


def get_mode() -> Mode:
    """The calling thread's or task's mode: ``"exact"`` (the default) or ``"fast"``."""
    return _current.get()  # type: ignore[return-value]


def is_fast() -> bool:
    """Whether the calling thread or task runs in fast mode."""
    return _current.get() == "fast"


class mode(contextlib.ContextDecorator):
    """``with fastdl.mode("fast"):`` (or ``@fastdl.mode("fast")``): run a block in ``mode``.

    The previous mode comes back when the block ends, also on an exception.
    Re-entrant: one object may decorate a recursive or a concurrent function
    (each entry keeps its own token).
    """

    def __init__(self, mode: Mode) -> None:
        self.mode = _checked(mode)

    def __enter__(self) -> mode:
        _entered.set(_entered.get() + (_current.set(self.mode),))
        return self

    def __exit__(self, *exc: object) -> None:
        tokens = _entered.get()
        _entered.set(tokens[:-1])
        _current.reset(tokens[-1])
