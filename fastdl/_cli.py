"""What the ``fastdl`` command's parts share: a parser whose errors are one line, argument types, exit statuses.

Standard library only: ``fastdl run`` needs none of the chapter's extras.
"""
import argparse
import signal
import threading
from contextlib import contextmanager

INTERRUPTED = 130
TERMINATED = 128 + signal.SIGTERM


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def seed_argument(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**32 - 1, got {text!r}")
    return value


@contextmanager
def terminate_cleanly():
    """SIGTERM (``kill``, ``timeout``) unwinds like Ctrl-C, so the search's workers are stopped too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_terminated(signum, frame):
    raise SystemExit(TERMINATED)
