"""``python -m fastdl``: train the book's network with both backends and compare."""
import time

import numpy as np

from fastdl import nets, reference, trainer


def _train(net_cls, trainer_cls, data, seed):
    np.random.seed(seed)
    x_train, t_train, x_test, t_test = data
    net = net_cls(x_train.shape[1], [100] * 5, 10, use_batchnorm=True, use_dropout=True, dropout_ration=0.2)
    run = trainer_cls(net, x_train, t_train, x_test, t_test, epochs=5, mini_batch_size=100,
                      optimizer="Adam", optimizer_param={"lr": 0.001}, verbose=False)
    start = time.perf_counter()
    run.train()
    return time.perf_counter() - start, run


def main():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, 784))
    t = rng.integers(0, 10, 2000)
    x = (centres[t] + 2.0 * rng.standard_normal((2000, 784))).astype(np.float64)
    data = (x[:1500], t[:1500], x[1500:], t[1500:])
    print("MultiLayerNetExtend(784, [100]*5, 10), batchnorm + dropout, Adam, 5 epochs, synthetic data")
    results = {}
    for name, net_cls, trainer_cls in [("reference", reference.MultiLayerNetExtend, reference.Trainer),
                                       ("fastdl", nets.MultiLayerNetExtend, trainer.Trainer)]:
        seconds, run = _train(net_cls, trainer_cls, data, seed=0)
        results[name] = run
        print(f"{name:>9}: final loss {run.train_loss_list[-1]:.6f}, "
              f"test acc {run.test_acc_list[-1]:.4f}, {seconds:.2f} s")
    same = results["reference"].train_loss_list == results["fastdl"].train_loss_list
    print("identical loss curves:", same)


if __name__ == "__main__":
    main()
