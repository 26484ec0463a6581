"""The reference training loop with fastdl's optimizers."""
from fastdl import optim
from fastdl.reference import trainer as reference


class Trainer(reference.Trainer):
    __doc__ = reference.Trainer.__doc__

    optimizers = {
        "sgd": optim.SGD, "momentum": optim.Momentum, "nesterov": optim.Nesterov,
        "adagrad": optim.AdaGrad, "rmsprop": optim.RMSprop, "adam": optim.Adam,
    }


__all__ = ["Trainer"]
