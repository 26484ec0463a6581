"""The experiments of chapter 6, runnable from the ``fastdl`` command.

One module per experiment; each has ``NAME``, ``TITLE``, ``NEEDS_MNIST``,
``SETTINGS`` (``"quick"`` and ``"book"``) and ``run(backend, data, settings,
out_dir, seed=0)``, which saves its figures under ``out_dir`` and returns its
numbers. An experiment that runs independent trials also sets
``RUNS_TRIALS = True``: the command then gives it ``--workers`` and ``--dask``
and passes ``executor`` and ``workers`` to its ``run``. Register a new module
in ``fastdl.chapter.runner.EXPERIMENTS``; the command and ``all`` pick it up.
Needs the ``chapter`` extra (matplotlib, tqdm, threadpoolctl).
"""

# The distribution's name on PyPI, for install hints (``import fastdl`` and the command keep their name).
DISTRIBUTION = "fastdl-scratch"
