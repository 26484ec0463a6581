"""fastdl: chapter 6 of *Deep Learning from Scratch* (and chapters 7-8's conv layers), exact and fast.

``fastdl.reference`` is the book in plain NumPy (the oracle);
``fastdl.optim``, ``fastdl.layers``, ``fastdl.util``, ``fastdl.nets`` and
``fastdl.trainer`` are the same API backed by compiled kernels where they apply.
"""
from fastdl import _backend
from fastdl._mode import get_mode, mode, set_mode
from fastdl._pool import configure_memory, release_memory
from fastdl._kernels import _openmp
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
        From 1 to 1024. The default is ``OMP_NUM_THREADS`` where it is set,
        else the CPUs this process may use (affinity and cgroup quota).
        ``threadpoolctl`` sees and limits the same setting. Results do not
        depend on the number of threads. In a process forked from one that
        used the kernels, they run on one thread (OpenMP's thread pool does
        not survive ``fork``).

    Raises
    ------
    TypeError
        If ``n`` is not an integer.
    ValueError
        If ``n`` is out of range.
    """
    if _threads is None:
        _openmp.check_num_threads(n)
    else:
        _threads.set_num_threads(n)


def calibrate_threads(verbose: bool = False) -> int | None:
    """Measure the work size from which the kernels' threads pay off on this machine; use it.

    Takes a few seconds; the answer depends on what else runs at the time.
    To use it in every process, set ``FASTDL_THREAD_THRESHOLD`` to it.

    Returns
    -------
    int or None
        The threshold in elements (``fastdl.show_config()`` shows it), or
        ``None`` where more threads paid off at no size up to 2**22: then
        the kernels run on one thread. Also ``None`` without OpenMP.
    """
    return None if _threads is None or not _threads.OPENMP else _threads.calibrate(verbose=verbose)


def get_num_threads() -> int:
    """The number of threads the kernels use for large arrays (1 without OpenMP)."""
    return 1 if _threads is None else _threads.get_num_threads()


__version__ = "0.1.0"


def show_config() -> None:
    """Print fastdl's version, NumPy's, the compiled kernels in use, the thread setup and the mode.

    The thread setup: the threads the kernels use, the wait policy of
    fastdl's OpenMP runtime and the work size from which kernels use more
    than one thread.
    """
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
    if _threads is not None:
        print(f"  CPUs available: {_threads.available_cpus()} (affinity and cgroup quota)")
        print(f"  OpenMP runtime: {_openmp.runtime or 'loaded before fastdl, or not known'}")
        print(f"  OpenMP wait policy: {_openmp.wait_policy}")
        threshold = _threads.get_thread_threshold()
        print(f"  thread threshold: {'never (one thread)' if threshold is None else f'{threshold} elements'}")
    print(f"  mode: {get_mode()}")


__all__ = [
    "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
    "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization",
    "Convolution", "Pooling",
    "softmax", "cross_entropy_error", "sigmoid", "relu", "numerical_gradient",
    "MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet", "Trainer",
    "shuffle_dataset", "smooth_curve", "conv_output_size", "im2col", "col2im",
    "show_config", "set_num_threads", "get_num_threads", "calibrate_threads", "set_mode", "get_mode", "mode",
    "configure_memory", "release_memory", "__version__",
]
