"""Training with Adam in one of fastdl's modes: the accuracy check of fast mode.

Shared by tests/test_fast_mode.py and ``bench/bench_fast.py --accuracy``, both
importing it as ``tests.training`` (under pytest's importlib mode that takes
pytest 8.4 or later).
"""
import numpy as np

import fastdl
from fastdl.optim import Adam


def accuracy_after_training(make_network, mode, data, steps, batch):
    """Test accuracy of ``make_network()`` after ``steps`` Adam steps (lr 0.001) in ``mode``.

    ``data`` is ``((x, t), (x_test, t_test))`` as ``load_mnist`` returns it.
    The global NumPy stream is seeded with 0 before the network is built;
    each step draws ``batch`` training images from it with replacement, as
    the book's training scripts do.
    """
    (x, t), (x_test, t_test) = data
    np.random.seed(0)
    network, optimizer = make_network(), Adam(lr=0.001)
    with fastdl.mode(mode):
        for _ in range(steps):
            batch_mask = np.random.choice(x.shape[0], batch)
            optimizer.update(network.params, network.gradient(x[batch_mask], t[batch_mask]))
        return network.accuracy(x_test, t_test)
