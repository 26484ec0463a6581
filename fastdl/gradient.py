"""The book's ``common/gradient.py``: the reference's numerical gradients."""
from fastdl.reference.gradient import *  # noqa: F403
from fastdl.reference.gradient import __all__  # noqa: F401
