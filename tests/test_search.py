"""The hyper-parameter search: seeding, and identical results on any executor."""
import dataclasses

import numpy as np
import pytest

import fastdl
from fastdl.chapter import backends, search


@pytest.fixture(scope="module")
def problem():
    """A small search problem on random data (the search's mechanics, not its science)."""
    rng = np.random.default_rng(0)
    x = rng.random((120, 64)).astype(np.float32)
    t = rng.integers(0, 10, 120).astype(np.uint8)
    x_train, t_train, x_val, t_val = x[:96], t[:96], x[96:], t[96:]
    return search.SearchProblem("fastdl", x_train, t_train, x_val, t_val, [16, 16], epochs=3, batch_size=32)


def test_trials_come_from_one_seed_within_the_ranges():
    trials = search.sample_trials(50, seed=3)
    assert [t.lr for t in trials] == [t.lr for t in search.sample_trials(50, seed=3)]
    assert [t.lr for t in trials] != [t.lr for t in search.sample_trials(50, seed=4)]
    assert all(1e-6 <= t.lr <= 1e-2 and 1e-8 <= t.weight_decay <= 1e-4 for t in trials)
    seeds = {tuple(t.seed.generate_state(2)) for t in trials}
    assert len(seeds) == 50


def test_a_trial_is_a_pure_function_of_its_configuration(problem):
    trial = search.sample_trials(2, seed=0)[1]
    np.random.seed(123)
    first = search.train_trial(problem, trial)
    after = np.random.rand()
    np.random.seed(999)
    second = search.train_trial(problem, trial)
    assert first == second
    np.random.seed(123)
    assert np.random.rand() == after  # the caller's global stream is left as it was


def test_one_and_two_local_workers_agree(problem):
    trials = search.sample_trials(6, seed=1)
    serial = search.run_search(problem, trials, workers=1)
    parallel = search.run_search(problem, trials, workers=2)
    assert serial == parallel
    finals = [r["val_acc"][-1] for r in serial]
    assert finals == sorted(finals, reverse=True)


def test_dask_local_cluster_agrees_with_a_serial_run(problem):
    distributed = pytest.importorskip("distributed")
    trials = search.sample_trials(4, seed=2)
    serial = search.run_search(problem, trials, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        on_dask = search.run_search(problem, trials, executor=client.get_executor())
    assert on_dask == serial



def test_a_trial_runs_in_the_mode_of_the_search(problem, monkeypatch):
    """--mode reached the trials only with one worker: a worker process starts in the default mode."""
    seen = []
    backend = backends.get_backend("fastdl")

    class Recording(backend.MultiLayerNet):
        def gradient(self, x, t):
            seen.append(fastdl.get_mode())
            return super().gradient(x, t)

    monkeypatch.setattr(search, "get_backend", lambda name: type("B", (), {
        "MultiLayerNet": Recording, "Trainer": backend.Trainer}))
    search.train_trial(dataclasses.replace(problem, mode="fast"), search.sample_trials(1, seed=0)[0])
    assert seen and set(seen) == {"fast"} and fastdl.get_mode() == "exact"
