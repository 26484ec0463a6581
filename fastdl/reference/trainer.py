"""The book's training loop: random mini-batches, per-epoch accuracies."""
from __future__ import annotations

from typing import Any

import numpy as np

from fastdl.reference import optim


class Trainer:
    """Train ``network`` with mini-batch gradient descent.

    ``optimizer`` is looked up by lower-case name in ``optimizers`` (``sgd``,
    ``momentum``, ``nesterov``, ``adagrad``, ``rmsprop``, ``adam``) and built
    with ``optimizer_param``. ``train()`` runs ``int(epochs*iter_per_epoch)``
    steps; mini-batches are drawn with replacement by ``np.random.choice``.
    ``train_loss_list`` grows every step, ``train_acc_list`` and
    ``test_acc_list`` once per epoch (on the first
    ``evaluate_sample_num_per_epoch`` samples if that is given).
    """

    optimizers = {name.lower(): getattr(optim, name) for name in optim.NAMES}

    def __init__(self, network: Any, x_train: np.ndarray, t_train: np.ndarray,
                 x_test: np.ndarray, t_test: np.ndarray, epochs: int = 20, mini_batch_size: int = 100,
                 optimizer: str = "SGD",
                 optimizer_param: dict[str, Any] = {"lr": 0.01},  # noqa: B006 (the book's signature; never mutated)
                 evaluate_sample_num_per_epoch: int | None = None, verbose: bool = True) -> None:
        self.network = network
        self.verbose = verbose
        self.x_train = x_train
        self.t_train = t_train
        self.x_test = x_test
        self.t_test = t_test
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch

        name = optimizer.lower()
        if name not in self.optimizers:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(self.optimizers)}")
        self.optimizer = self.optimizers[name](**optimizer_param)

        self.train_size = x_train.shape[0]
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0

        self.train_loss_list = []
        self.train_acc_list = []
        self.test_acc_list = []

    def train_step(self) -> None:
        """One mini-batch step; at each epoch boundary, record accuracies."""
        batch_mask = np.random.choice(self.train_size, self.batch_size)
        x_batch = self.x_train[batch_mask]
        t_batch = self.t_train[batch_mask]

        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)

        loss = self.network.loss(x_batch, t_batch)
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))

        if self.current_iter % self.iter_per_epoch == 0:
            self.current_epoch += 1
            x_train_sample, t_train_sample = self.x_train, self.t_train
            x_test_sample, t_test_sample = self.x_test, self.t_test
            if self.evaluate_sample_num_per_epoch is not None:
                t = self.evaluate_sample_num_per_epoch
                x_train_sample, t_train_sample = self.x_train[:t], self.t_train[:t]
                x_test_sample, t_test_sample = self.x_test[:t], self.t_test[:t]
            train_acc = self.network.accuracy(x_train_sample, t_train_sample)
            test_acc = self.network.accuracy(x_test_sample, t_test_sample)
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print("=== epoch:" + str(self.current_epoch) + ", train acc:" + str(train_acc)
                      + ", test acc:" + str(test_acc) + " ===")
        self.current_iter += 1

    def train(self) -> None:
        """Run all steps, then print the final test accuracy if verbose."""
        for _ in range(self.max_iter):
            self.train_step()
        test_acc = self.network.accuracy(self.x_test, self.t_test)
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(test_acc))
