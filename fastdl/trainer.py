"""The reference training loop with fastdl's optimizers."""
from __future__ import annotations

from fastdl import optim
from fastdl.reference import trainer as reference


class Trainer(reference.Trainer):
    __doc__ = reference.Trainer.__doc__

    optimizers = {name.lower(): getattr(optim, name) for name in optim.NAMES}


__all__ = ["Trainer"]
