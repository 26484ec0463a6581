"""An array someone holds never changes afterwards, whatever other threads do.

A reader thread keeps taking the layer's or optimizer's current array while
the main thread updates; every array it took must keep the value it had
when taken (the kernels write only new arrays and the arrays the reference
writes in place). Bounded: 2**18-element arrays, at most 40 held at once.
"""
import threading

import numpy as np

from fastdl import layers, optim

N = 2**18
MAX_HELD = 40


def held_arrays_while(update, take, rounds=30):
    """``(array, copy at the time it was taken)`` pairs a reader took while ``update()`` ran ``rounds`` times."""
    held, stop = [], threading.Event()

    def reader():
        while not stop.is_set() and len(held) < MAX_HELD:
            array = take()
            held.append((array, array.copy()))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(rounds):
            update()
    finally:
        stop.set()
        thread.join()
    return held


def test_momentum_velocity_held_by_another_thread_never_changes():
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal(N)}
    grads = {"W": rng.standard_normal(N)}
    opt = optim.Momentum()
    opt.update(params, grads)
    held = held_arrays_while(lambda: opt.update(params, grads), lambda: opt.v["W"])
    assert held
    assert all(np.array_equal(array, copy) for array, copy in held)


def test_batchnorm_xn_held_by_another_thread_never_changes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N // 512, 512))
    layer = layers.BatchNormalization(np.ones(512), np.zeros(512))
    layer.forward(x)
    held = held_arrays_while(lambda: layer.backward(layer.forward(x + rng.standard_normal())),
                             lambda: layer.xn)
    assert held
    assert all(np.array_equal(array, copy) for array, copy in held)
