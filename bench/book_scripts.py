"""Run the book's own scripts with the book's classes, fastdl's reference or fastdl, and compare.

Usage, from the folder the scripts should write their files in (``FASTDL``:
a checkout with the kernels built in place)::

    export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 FASTDL_MNIST_DIR=DIR PYTHONPATH=FASTDL
    python FASTDL/bench/book_scripts.py BOOK_DIR/ch07/train_convnet.py [--impl book|reference|fastdl]
    python FASTDL/bench/book_scripts.py BOOK_DIR/ch07/train_convnet.py --compare

``BOOK_DIR`` is a checkout of oreilly-japan/deep-learning-from-scratch. The
script runs unchanged (``runpy``, as ``__main__``); only the modules it
imports are redirected, as a reader would edit its imports: with
``--impl fastdl``, ``common.layers`` is ``fastdl.layers``, ``simple_convnet``
is ``fastdl.nets`` and so on (see ``MODULES``). ``dataset.mnist`` is always
``fastdl.datasets``, whose ``load_mnist`` has the book's signature and reads
the IDX files in ``$FASTDL_MNIST_DIR`` (the book's loader downloads them).
The global NumPy stream is seeded first (``--seed``), since the scripts draw
their weights and mini-batches from it unseeded, and matplotlib draws off
screen. The wall and CPU times go to stderr.

``--compare`` runs the script once per implementation, each in a fresh
process, and says whether their outputs (what they print, the files they
write) are identical and how long each took.
"""
import argparse
import difflib
import hashlib
import importlib
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

# Book module -> module standing in for it, per implementation.
MODULES = {
    "book": {"dataset.mnist": "fastdl.datasets"},
    "reference": {
        "common.layers": "fastdl.reference.layers", "common.util": "fastdl.reference.util",
        "common.functions": "fastdl.reference.functions", "common.gradient": "fastdl.reference.gradient",
        "common.optimizer": "fastdl.reference.optim", "common.trainer": "fastdl.reference.trainer",
        "simple_convnet": "fastdl.reference.convnets", "deep_convnet": "fastdl.reference.convnets",
        "dataset.mnist": "fastdl.datasets",
    },
    "fastdl": {
        "common.layers": "fastdl.layers", "common.util": "fastdl.util",
        "common.functions": "fastdl.reference.functions", "common.gradient": "fastdl.reference.gradient",
        "common.optimizer": "fastdl.optim", "common.trainer": "fastdl.trainer",
        "simple_convnet": "fastdl.nets", "deep_convnet": "fastdl.nets",
        "dataset.mnist": "fastdl.datasets",
    },
}


def run_script(script, impl, seed):
    """Run ``script`` as ``__main__`` with its imports redirected to ``impl``'s modules."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import numpy as np
    script = Path(script).resolve()
    # What `python ch07/script.py` plus the scripts' sys.path.append(os.pardir) would find.
    sys.path[:0] = [str(script.parent), str(script.parent.parent)]
    for book_name, name in MODULES[impl].items():
        sys.modules[book_name] = importlib.import_module(name)
    np.random.seed(seed)
    start, start_cpu = time.perf_counter(), time.process_time()
    runpy.run_path(str(script), run_name="__main__")
    # CPU time as well: on a shared machine it moves less with the neighbours' load.
    print(f"{script.name} [{impl}]: {time.perf_counter() - start:.2f} s wall, "
          f"{time.process_time() - start_cpu:.2f} s CPU", file=sys.stderr)


def compare(script, seed):
    """Run ``script`` under every implementation; print times and whether outputs are identical.

    The outputs compared are what the script prints and the files it writes
    in the current directory (``params.pkl``, ...), by SHA-256.
    """
    outputs = {}
    for impl in MODULES:
        start = time.time()
        done = subprocess.run([sys.executable, __file__, str(script), "--impl", impl, "--seed", str(seed)],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"{impl} failed:\n{done.stderr}")
        written = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(Path.cwd().iterdir())
                   if path.is_file() and path.stat().st_mtime >= start}
        print(f"{done.stderr.splitlines()[-1]} ({len(done.stdout.splitlines())} lines of output"
              + "".join(f", wrote {name} sha256 {digest[:16]}" for name, digest in written.items()) + ")",
              flush=True)
        outputs[impl] = (done.stdout, written)
    for impl in ("reference", "fastdl"):
        if outputs[impl] == outputs["book"]:
            print(f"{impl}: output and files identical to the book's")
        else:
            print(f"{impl}: output or files DIFFER from the book's:")
            diff = difflib.unified_diff(outputs["book"][0].splitlines(), outputs[impl][0].splitlines(), "book", impl,
                                        lineterm="", n=0)
            print("\n".join(list(diff)[:20]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("script", type=Path, help="a script of the book's checkout, e.g. ch07/train_convnet.py")
    parser.add_argument("--impl", choices=list(MODULES), default="fastdl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true", help="run every implementation and compare")
    args = parser.parse_args()
    if args.compare:
        compare(args.script, args.seed)
    else:
        run_script(args.script, args.impl, args.seed)


if __name__ == "__main__":
    main()
