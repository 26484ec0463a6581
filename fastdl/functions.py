"""The book's ``common/functions.py``: the reference's functions (no kernel pays for them)."""
from fastdl.reference.functions import *  # noqa: F403
from fastdl.reference.functions import __all__  # noqa: F401
