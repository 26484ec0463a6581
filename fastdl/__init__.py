"""fastdl: chapter 6 of *Deep Learning from Scratch* (and chapters 7-8's conv layers), exact and fast.

``fastdl.reference`` is the book in plain NumPy (the oracle);
``fastdl.optim``, ``fastdl.layers``, ``fastdl.util``, ``fastdl.nets`` and
``fastdl.trainer`` are the same API backed by compiled kernels where they apply.
"""
from fastdl import _backend
from fastdl._mode import get_mode, mode, set_mode
from fastdl._pool import configure_memory, release_memory
from fastdl.layers import (
    Affine, BatchNormalization, Convolution, Dropout, Pooling, Relu, Sigmoid, SoftmaxWithLoss,
)
from fastdl.nets import DeepConvNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet
from fastdl.optim import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from fastdl.reference.functions import cross_entropy_error, relu, sigmoid, softmax
from fastdl.reference.gradient import numerical_gradient
from fastdl.trainer import Trainer
from fastdl.util import col2im, conv_output_size, im2col, shuffle_dataset, smooth_curve

_threads = _backend.load("threads")


def set_num_threads(n: int) -> None:
    """Use ``n`` OpenMP threads for large arrays (in the calling thread).

    Parameters
    ----------
    n : int
        From 1 to 1024 (else ValueError; TypeError for a non-integer). The
        default is OpenMP's: ``OMP_NUM_THREADS`` or the number of cores.
        ``threadpoolctl`` sees and limits the same setting. Results do not
        depend on the number of threads. In a process forked from one that
        used the kernels, they run on one thread (OpenMP's thread pool does
        not survive ``fork``).
    """
    if _threads is not None:
        _threads.set_num_threads(n)
    elif isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1024:
        raise ValueError(f"the number of threads must be an integer from 1 to 1024, not {n!r}")


def get_num_threads() -> int:
    """The number of threads the kernels use for large arrays (1 without OpenMP)."""
    return 1 if _threads is None else _threads.get_num_threads()


__version__ = "0.1.0"


def show_config() -> None:
    """Print fastdl's version, NumPy's, the compiled kernels in use, the thread count and the mode."""
    import numpy as np

    from fastdl import fast, layers, optim, util
    print(f"fastdl {__version__} (NumPy {np.__version__})")
    for name, module in [("optim", optim._kernels), ("batchnorm", layers._batchnorm),
                         ("dropout", layers._dropout), ("activations", layers._activations),
                         ("conv", util._conv), ("fastconv", fast._fastconv)]:
        if module is None:
            print(f"  kernel {name}: MISSING ({_backend.missing.get(name)}); using the NumPy reference")
        else:
            print(f"  kernel {name}: {module.__name__.rsplit('.', 1)[-1]}")
    openmp = _threads is not None and _threads.OPENMP
    print(f"  threads: {get_num_threads()} (OpenMP {'on' if openmp else 'off'})")
    print(f"  mode: {get_mode()}")


__all__ = [
    "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
    "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization",
    "Convolution", "Pooling",
    "softmax", "cross_entropy_error", "sigmoid", "relu", "numerical_gradient",
    "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet", "Trainer",
    "shuffle_dataset", "smooth_curve", "conv_output_size", "im2col", "col2im",
    "show_config", "set_num_threads", "get_num_threads", "set_mode", "get_mode", "mode",
    "configure_memory", "release_memory", "__version__",
]
