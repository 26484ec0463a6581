"""The experiments of chapter 6, runnable from the ``fastdl`` command.

One module per experiment; each has ``NAME``, ``TITLE``, ``NEEDS_MNIST``,
``SETTINGS`` (``"quick"`` and ``"book"``) and ``run(backend, data, settings,
out_dir)``, which saves its figures under ``out_dir`` and returns its numbers.
Needs the ``chapter`` extra (matplotlib, tqdm, threadpoolctl, mlxtend).
"""
