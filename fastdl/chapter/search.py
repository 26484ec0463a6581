"""Random search over the learning rate and weight decay, on any executor.

Trials are sampled in the parent from one seed; each trial also gets its own
``SeedSequence`` child, seeds the global NumPy stream the book's networks draw
from with it, and runs with one compute thread. A trial is therefore a pure
function of its configuration, and the results do not depend on how many
workers run the trials or where. The executor can be a local process pool (the
default) or any ``concurrent.futures``-style executor, e.g. a Dask
``distributed.Client(...).get_executor()``. Workers must not run two trials at
once in one process (the global stream is shared): use processes, or one
thread per worker.

The default pool starts its workers with ``forkserver`` (``spawn`` where
there is none), never a plain ``fork``: a child forked from a process whose
OpenMP threads have run can hang in libgomp. Its workers start with Ctrl-C
blocked and ignore it; on Ctrl-C (or any exception) the parent cancels the
queued trials and ends the workers at once.
"""
import multiprocessing
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

import fastdl
from fastdl import shuffle_dataset
from fastdl.chapter.backends import get_backend
from fastdl.chapter.plotting import new_figure, save_figure
from fastdl.chapter.progress import progress

NAME = "search"
TITLE = "Random search of lr and weight decay: best trials (validation solid, train dashed)"
NEEDS_MNIST = True
RUNS_TRIALS = True
SETTINGS = {
    "quick": {"train_size": 500, "validation_rate": 0.2, "hidden_size_list": [100] * 6,
              "batch_size": 100, "trials": 30, "epochs": 50,
              "lr_exponents": (-6, -2), "weight_decay_exponents": (-8, -4), "plotted": 20},
    "book": {"train_size": 500, "validation_rate": 0.2, "hidden_size_list": [100] * 6,
             "batch_size": 100, "trials": 100, "epochs": 50,
             "lr_exponents": (-6, -2), "weight_decay_exponents": (-8, -4), "plotted": 20},
}


@dataclass(frozen=True)
class Trial:
    """One configuration: ``lr``, ``weight_decay`` and the trial's own seed."""

    index: int
    lr: float
    weight_decay: float
    seed: np.random.SeedSequence


@dataclass(frozen=True)
class SearchProblem:
    """What every trial shares: the backend's name, the data split, the training setting.

    ``mode`` is fastdl's (``fastdl.get_mode()`` where the search starts): a
    worker process starts in the default mode, so the trial enters it.
    """

    backend: str
    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    hidden_size_list: list
    epochs: int
    batch_size: int
    mode: str = "exact"


def sample_trials(n_trials, seed, lr_exponents=(-6, -2), weight_decay_exponents=(-8, -4)):
    """``n_trials`` configurations, ``10**uniform(...)`` for each, from one seed.

    Returns
    -------
    list of Trial
        Trial ``i`` carries ``SeedSequence(seed).spawn(n_trials)[i]``.
    """
    root = np.random.SeedSequence(seed)
    rng = np.random.default_rng(root)
    trials = []
    for index, child in enumerate(root.spawn(n_trials)):
        weight_decay = float(10 ** rng.uniform(*weight_decay_exponents))
        lr = float(10 ** rng.uniform(*lr_exponents))
        trials.append(Trial(index, lr, weight_decay, child))
    return trials


def train_trial(problem, trial):
    """Train the book's network for one configuration; accuracies per epoch.

    The global NumPy stream is seeded from the trial's own ``SeedSequence`` and
    restored afterwards; BLAS and OpenMP run one thread, fastdl in ``problem.mode``.
    """
    backend = get_backend(problem.backend)
    state = np.random.get_state()
    try:
        with threadpool_limits(1), fastdl.mode(problem.mode):
            np.random.seed(trial.seed.generate_state(1)[0])
            network = backend.MultiLayerNet(problem.x_train.shape[1], problem.hidden_size_list, 10,
                                            weight_decay_lambda=trial.weight_decay)
            trainer = backend.Trainer(network, problem.x_train, problem.t_train, problem.x_val, problem.t_val,
                                      epochs=problem.epochs, mini_batch_size=problem.batch_size,
                                      optimizer="sgd", optimizer_param={"lr": trial.lr}, verbose=False)
            trainer.train()
    finally:
        np.random.set_state(state)
    return {"index": trial.index, "lr": trial.lr, "weight_decay": trial.weight_decay,
            "val_acc": [float(a) for a in trainer.test_acc_list],
            "train_acc": [float(a) for a in trainer.train_acc_list]}


def run_search(problem, trials, executor=None, workers=1):
    """Run every trial; results sorted by final validation accuracy, best first.

    Parameters
    ----------
    problem : SearchProblem
    trials : list of Trial
    executor : concurrent.futures.Executor, optional
        Anything with ``submit`` returning futures with ``result()`` (a Dask
        client's ``get_executor()`` too). By default a local process pool of
        ``workers`` processes, or this process when ``workers`` is 1.
    workers : int
        Processes of the default pool.
    """
    desc = f"{NAME} [{problem.backend}]"
    if executor is None and workers == 1:
        results = [train_trial(problem, trial) for trial in progress(trials, desc=desc)]
    elif executor is None:
        pool = new_pool(workers, problem)
        try:
            with signals_deferred():
                futures = [pool.submit(_train_in_worker, trial) for trial in trials]
            results = _collect(futures, desc)
        except BaseException:
            stop_pool(pool)
            raise
        pool.shutdown()
    else:
        results = _collect([executor.submit(train_trial, problem, trial) for trial in trials], desc)
    return sorted(results, key=lambda r: (-r["val_acc"][-1], r["index"]))


def new_pool(workers, problem):
    """A process pool safe with OpenMP (no plain fork); each worker receives ``problem`` once and ignores Ctrl-C."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Imported once in the server, not in every worker: a worker then starts at once.
        context.set_forkserver_preload([__name__])
    else:
        context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(problem,))


def stop_pool(pool):
    """Cancel the queued trials and end the running ones now (``shutdown`` would wait for them)."""
    # Python 3.14 has pool.terminate_workers(); before it, the processes are only in _processes,
    # which shutdown() clears.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    for process in processes:
        process.join(timeout=1)
    # The pool's manager thread closes its wake-up pipe when it sees the workers gone, and
    # concurrent.futures' exit hook writes to that pipe without the pool's lock (CPython 3.10
    # to 3.13): racing, it prints "OSError: Bad file descriptor" at exit. Joined, it is done.
    if manager is not None:
        manager.join(timeout=2)


@contextmanager
def signals_deferred():
    """Hold back Ctrl-C and SIGTERM while this thread starts processes; deliver any that came at the end.

    Their exception in the middle of starting a process could leave that
    process running unseen. Processes started meanwhile from this thread also
    inherit a blocked SIGINT, so a Ctrl-C sent to the whole process group
    reaches only this process, which stops them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = (signal.SIGINT, signal.SIGTERM)
    received = []
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum)) for signum in held}
    can_block = hasattr(signal, "pthread_sigmask")
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if can_block else None
    try:
        yield
    finally:
        if can_block:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            if callable(previous[signum]):
                previous[signum](signum, None)


_worker_problem = None


def _start_worker(problem):
    global _worker_problem
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_problem = problem


def _train_in_worker(trial):
    return train_trial(_worker_problem, trial)


def _collect(futures, desc):
    try:
        return [future.result() for future in progress(futures, desc=desc)]
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def split_validation(x, t, validation_rate):
    """Shuffle (global stream) and hold out the first ``validation_rate`` as validation."""
    x, t = shuffle_dataset(x, t)
    validation_num = int(x.shape[0] * validation_rate)
    return x[validation_num:], t[validation_num:], x[:validation_num], t[:validation_num]


def run(backend, data, settings, out_dir, seed=0, executor=None, workers=1):
    """Split once, search, and plot the best trials as the book does."""
    np.random.seed(seed)
    x_train, t_train, x_val, t_val = split_validation(
        data.x_train[:settings["train_size"]], data.t_train[:settings["train_size"]],
        settings["validation_rate"])
    problem = SearchProblem(backend.name, x_train, t_train, x_val, t_val,
                            list(settings["hidden_size_list"]), settings["epochs"], settings["batch_size"],
                            fastdl.get_mode())
    trials = sample_trials(settings["trials"], seed, settings["lr_exponents"], settings["weight_decay_exponents"])
    results = run_search(problem, trials, executor=executor, workers=workers)
    best = results[0]
    return {
        "figures": [plot_best(results, settings["plotted"], out_dir), plot_scatter(results, out_dir)],
        "summary": {
            "trials": len(results),
            "best validation accuracy": best["val_acc"][-1],
            "best lr": best["lr"],
            "best weight decay": best["weight_decay"],
        },
        "validation_size": int(x_val.shape[0]),
        "train_size": int(x_train.shape[0]),
        "results": results,
    }


def plot_best(results, plotted, out_dir):
    """The book's grid: one small plot per trial, best first."""
    shown = results[:plotted]
    cols = 5
    rows = max(-(-len(shown) // cols), 1)
    figure, axes = new_figure(rows, cols, size=(11, 2.0 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.axis("off")
            continue
        result = shown[i]
        ax.plot(result["val_acc"])
        ax.plot(result["train_acc"], "--")
        ax.set_title(f"Best-{i + 1}: val {result['val_acc'][-1]:.2f}\n"
                     f"lr {result['lr']:.1e}, wd {result['weight_decay']:.1e}", fontsize=8)
        ax.set(ylim=(0, 1), xticks=[])
        if i % cols:
            ax.set_yticks([])
    figure.suptitle(TITLE, fontsize=10)
    return save_figure(figure, out_dir, "search.png")


def plot_scatter(results, out_dir):
    """Final validation accuracy over (lr, weight decay): where the good region lies."""
    figure, ax = new_figure(size=(6, 4.5))
    points = ax.scatter([r["lr"] for r in results], [r["weight_decay"] for r in results],
                        c=[r["val_acc"][-1] for r in results], cmap="viridis", vmin=0, vmax=1)
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylabel="weight decay",
           title="Final validation accuracy of every trial")
    figure.colorbar(points, ax=ax, label="validation accuracy")
    return save_figure(figure, out_dir, "search_scatter.png")
