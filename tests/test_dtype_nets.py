"""``dtype=`` on the networks: float32 roundings of the book's draws, float32 throughout,
and fastdl's float32 networks equal to the reference's to the bit (exact mode)."""
import numpy as np
import pytest

import fastdl
from fastdl import nets
from fastdl import reference as ref
from fastdl.optim import Adam
from fastdl.reference.optim import Adam as RefAdam

SMALL_CONV = {"filter_num": 6, "filter_size": 5, "pad": 0, "stride": 1}


def _build(module, name, dtype):
    if name == "SimpleConvNet":
        return module.SimpleConvNet(input_dim=(1, 12, 12), conv_param=SMALL_CONV, hidden_size=20, dtype=dtype)
    if name == "DeepConvNet":
        return module.DeepConvNet(dtype=dtype)
    if name == "MultiLayerNet":
        return module.MultiLayerNet(784, [30, 20], 10, weight_decay_lambda=0.1, dtype=dtype)
    return module.MultiLayerNetExtend(784, [30, 20], 10, use_batchnorm=True, use_dropout=True,
                                      weight_decay_lambda=0.1, dtype=dtype)


def _batch(name, n=6, seed=1):
    rng = np.random.default_rng(seed)
    shape = {"SimpleConvNet": (n, 1, 12, 12), "DeepConvNet": (n, 1, 28, 28)}.get(name, (n, 784))
    return rng.random(shape, dtype=np.float32), rng.integers(0, 10, n)


NAMES = ["SimpleConvNet", "DeepConvNet", "MultiLayerNet", "MultiLayerNetExtend"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("module", [ref, nets], ids=["reference", "fastdl"])
def test_float32_weights_are_the_roundings_of_the_same_draws(module, name):
    np.random.seed(3)
    wide = _build(module, name, np.float64)
    after_wide = np.random.get_state()[2]
    np.random.seed(3)
    narrow = _build(module, name, np.float32)
    assert np.random.get_state()[2] == after_wide  # same number of draws
    assert narrow.params.keys() == wide.params.keys()
    for key, value in narrow.params.items():
        assert value.dtype == np.float32, key
        assert np.array_equal(value, wide.params[key].astype(np.float32)), key
    assert narrow.dtype == np.float32 and wide.dtype == np.float64


@pytest.mark.parametrize("one_hot", [False, True], ids=["labels", "one-hot float64"])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("module", [ref, nets], ids=["reference", "fastdl"])
def test_float32_everywhere(module, name, one_hot):
    np.random.seed(0)
    net = _build(module, name, np.float32)
    x, t = _batch(name)
    if one_hot:  # as the book's load_mnist(one_hot_label=True) gives them
        t = np.eye(10)[t]
    grads = net.gradient(x, t)
    assert all(g.dtype == np.float32 for g in grads.values()), {k: g.dtype for k, g in grads.items()}
    assert np.asarray(net.loss(x, t)).dtype == np.float32
    assert net.predict(x).dtype == np.float32  # test mode too (BatchNormalization's running statistics)
    optimizer = Adam(lr=0.01) if module is nets else RefAdam(lr=0.01)
    optimizer.update(net.params, grads)
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert all(v.dtype == np.float32 for v in optimizer.m.values())


@pytest.mark.parametrize("name", NAMES)
def test_fastdl_float32_equals_reference_float32_to_the_bit(name):
    x, t = _batch(name)
    np.random.seed(5)
    mine = _build(nets, name, np.float32)
    np.random.seed(5)
    theirs = _build(ref, name, np.float32)
    opt_mine, opt_theirs = Adam(lr=0.01), RefAdam(lr=0.01)
    for step in range(3):
        np.random.seed(10 + step)  # same Dropout masks
        g_mine = mine.gradient(x, t)
        np.random.seed(10 + step)
        g_theirs = theirs.gradient(x, t)
        for key in g_theirs:
            assert g_mine[key].dtype == g_theirs[key].dtype
            assert np.array_equal(g_mine[key], g_theirs[key]), (step, key)
        opt_mine.update(mine.params, g_mine)
        opt_theirs.update(theirs.params, g_theirs)
    for key in theirs.params:
        assert np.array_equal(mine.params[key], theirs.params[key]), key
    assert np.array_equal(mine.predict(x), theirs.predict(x))


@pytest.mark.parametrize("name", NAMES)
def test_exact_mode_after_a_fast_block_is_unchanged(name):
    x, t = _batch(name)
    results = []
    for module in (nets, ref):
        np.random.seed(5)
        net = _build(module, name, np.float64)
        if module is nets:
            with fastdl.mode("fast"):
                np.random.seed(6)
                net.gradient(x, t)
        np.random.seed(7)
        results.append(net.gradient(x, t))
    for key in results[1]:
        assert np.array_equal(results[0][key], results[1][key]), key


@pytest.mark.parametrize("dtype", [np.float16, np.int32, "float128", object, "nonsense", ">f8"])
@pytest.mark.parametrize("module", [ref, nets], ids=["reference", "fastdl"])
def test_other_dtypes_are_refused(module, dtype):
    with pytest.raises(ValueError, match="float32 or float64"):
        module.MultiLayerNet(4, [3], 2, dtype=dtype)


def test_dtype_is_keyword_only():
    with pytest.raises(TypeError):
        ref.SimpleConvNet((1, 28, 28), SMALL_CONV, 100, 10, 0.01, np.float32)


@pytest.mark.parametrize("spelling", [None, np.float64, "float64", np.dtype("float64")])
def test_every_spelling_of_float64_takes_the_kernels(monkeypatch, spelling):
    """``dtype="float64"`` is the book's float64 too: the layers run the conv kernels, not the reference."""
    from fastdl import layers, util
    if util._conv is None:
        pytest.skip("no compiled conv kernels")
    calls = []
    kernels = util._conv
    spy = type("Spy", (), {"conv_forward": staticmethod(lambda *a: calls.append("conv") or kernels.conv_forward(*a)),
                           "pool_forward": staticmethod(lambda *a: calls.append("pool") or kernels.pool_forward(*a))})
    monkeypatch.setattr(util, "_conv", spy)
    x = np.random.default_rng(0).random((2, 1, 6, 6))
    conv = layers.Convolution(np.ones((2, 1, 3, 3)), np.zeros(2), dtype=spelling)
    layers.Pooling(2, 2, dtype=spelling).forward(conv.forward(x))
    assert calls == ["conv", "pool"]
