"""The two implementations an experiment can run on, behind one namespace."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    """The classes an experiment needs, from one implementation.

    Attributes
    ----------
    name : str
        ``"fastdl"`` or ``"reference"``.
    MultiLayerNet, MultiLayerNetExtend, SimpleConvNet, Trainer : type
        The chapters' networks and training loop.
    optimizers : dict
        Optimizer classes by the book's names (``"SGD"``, ``"Momentum"``, ...).
    """

    name: str
    MultiLayerNet: type
    MultiLayerNetExtend: type
    SimpleConvNet: type
    Trainer: type
    optimizers: dict


def get_backend(name):
    """The :class:`Backend` called ``name`` (``"fastdl"`` or ``"reference"``)."""
    if name == "fastdl":
        from fastdl import nets, optim, trainer
        return Backend("fastdl", nets.MultiLayerNet, nets.MultiLayerNetExtend, nets.SimpleConvNet,
                       trainer.Trainer, _optimizers(optim))
    if name == "reference":
        from fastdl import reference
        return Backend("reference", reference.MultiLayerNet, reference.MultiLayerNetExtend,
                       reference.SimpleConvNet, reference.Trainer, _optimizers(reference))
    raise ValueError(f"unknown backend {name!r}; choose fastdl or reference")


def _optimizers(module):
    from fastdl.reference.optim import NAMES
    return {name: getattr(module, name) for name in NAMES}
