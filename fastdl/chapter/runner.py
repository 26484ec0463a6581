"""Run experiments on a backend, time them, and save their numbers as JSON."""
import json
import time
from pathlib import Path

import numpy as np

import fastdl
from fastdl.chapter import (
    batchnorm, convnet, dropout, gradcheck, init_histograms, init_weights, optimizers, paths, search, weight_decay,
)
from fastdl.chapter.backends import get_backend

EXPERIMENTS = {module.NAME: module for module in (
    paths, optimizers, init_histograms, init_weights, batchnorm, gradcheck, weight_decay, dropout, search,
    convnet)}


def run_experiment(name, backend_name, scale, data, out_dir, seed=0, **options):
    """Run experiment ``name`` on one backend; write ``out_dir/<backend>/<name>.json``.

    Parameters
    ----------
    name : str
        A key of ``EXPERIMENTS``.
    backend_name : {"fastdl", "reference"}
    scale : {"quick", "book"}
    data : ChapterData or None
        MNIST, for the experiments that need it.
    out_dir : str or os.PathLike
    seed : int
    **options
        Passed to the experiment's ``run`` (``executor``, ``workers`` for the search).

    Returns
    -------
    dict
        The record saved as JSON: settings, data source, wall time, numbers,
        and figure paths relative to ``out_dir``.
    """
    module = EXPERIMENTS[name]
    backend = get_backend(backend_name)
    settings = module.SETTINGS[scale]
    folder = Path(out_dir) / backend_name
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = module.run(backend, data, settings, folder, seed=seed, **options)
    seconds = time.perf_counter() - start
    record = {
        "experiment": name, "title": module.TITLE, "backend": backend_name, "scale": scale, "seed": seed,
        "mode": fastdl.get_mode(), "seconds": seconds, "settings": settings,
        "data": data.source.as_dict() if module.NEEDS_MNIST else "none (synthetic input)",
        "versions": {"fastdl": fastdl.__version__, "numpy": np.__version__},
        **result,
        "figures": [f"{backend_name}/{figure}" for figure in result["figures"]],
    }
    with open(folder / f"{name}.json", "w") as file:
        json.dump(record, file, indent=1, default=_to_json)
    return record


def _to_json(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"cannot save {type(value).__name__} as JSON")
