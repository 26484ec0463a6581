"""Dask for the search's trials: a local cluster as fast as a process pool, or a scheduler reached in bounded time.

Two things differ from Dask's defaults, both measured. Dask's nanny starts
workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes glibc return freed
memory to the system after every large temporary: a trial then takes
hundreds of thousands of page faults and runs at half the speed of a pool
worker, so fastdl's local cluster leaves glibc's default. And a scheduler
address that accepts a connection but never answers would make
``distributed.Client`` wait forever, so the scheduler is asked for its
identity first, with a deadline.
"""
import asyncio
import logging
import os
import signal
import threading
from contextlib import contextmanager, suppress

from fastdl.chapter import DISTRIBUTION
from fastdl.chapter.search import signals_deferred

CONNECT_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be reached, or Dask is not installed."""


@contextmanager
def search_executor(address, workers):
    """An executor for the trials: None (the local pool) or a Dask client's, closed on exit.

    Parameters
    ----------
    address : str or None
        None for the local pool, ``"local"`` for a ``LocalCluster`` of
        ``workers`` one-thread processes, otherwise a scheduler's address.
    workers : int
    """
    if not address:
        yield None
        return
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError(f"--dask needs Dask: pip install '{DISTRIBUTION}[dask]'") from None
    if address != "local":
        client = _connect(Client, address)
        try:
            yield client.get_executor()
        finally:
            client.close(timeout=CLOSE_TIMEOUT)
        return
    cluster = client = None
    try:
        # A Ctrl-C in the middle of starting the cluster can crash the interpreter: it comes after.
        with signals_deferred(), dask.config.set({
                "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                "distributed.worker.preload": [__name__]}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None,
                                   silence_logs=logging.ERROR)
            client = Client(cluster)
        yield client.get_executor()
    except BaseException:
        if cluster is not None:
            _kill_workers(cluster)
            _quiet_dask_logging()
        raise
    finally:
        if client is not None:
            client.close(timeout=CLOSE_TIMEOUT)
        if cluster is not None:
            cluster.close(timeout=CLOSE_TIMEOUT)


def _kill_workers(cluster):
    """End a local cluster's workers now: a graceful close would wait for the running trials."""
    for nanny in cluster.workers.values():
        nanny.close_gracefully()  # tells the nanny not to start a new worker when this one dies
        if nanny.pid is not None:
            with suppress(OSError):
                os.kill(nanny.pid, signal.SIGKILL)


def _quiet_dask_logging():
    """Dask logs nothing below CRITICAL for the rest of the process (it is unwinding after killing workers).

    The cluster puts its log levels back when it closes, while its comms with the killed workers may still
    be closing on its event loop's thread: each would print an INFO traceback ("Batched Comm Closed") in
    the middle of the command's own messages.
    """
    names = [name for name in logging.root.manager.loggerDict if name.startswith("distributed.")]
    for name in ["distributed", *names]:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _connect(client_class, address):
    try:
        asyncio.run(asyncio.wait_for(_scheduler_identity(address), CONNECT_TIMEOUT))
        return client_class(address, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # any failure to reach or understand the scheduler is the user's address
        reason = f"no answer within {CONNECT_TIMEOUT:g} s" if isinstance(exc, TimeoutError) else str(exc)
        raise ClusterError(f"cannot reach a Dask scheduler at {address!r} ({reason or type(exc).__name__}); "
                           "give a running scheduler's address, e.g. tcp://scheduler:8786, or use --dask local"
                           ) from None


async def _scheduler_identity(address):
    from distributed.comm import connect
    comm = await connect(address, timeout=CONNECT_TIMEOUT)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def dask_setup(worker):
    """Dask's preload hook, run in each local worker's main thread: ignore Ctrl-C.

    The terminal sends SIGINT to every process of the command; this process
    alone handles it and stops the workers, which would otherwise each print
    a traceback.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
