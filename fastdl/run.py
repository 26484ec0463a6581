"""``fastdl run``: a script of the book, unchanged, on fastdl's modules.

``fastdl run [options] SCRIPT [ARGS...]`` runs ``SCRIPT`` as ``python SCRIPT
ARGS...`` would (``__main__``, ``__file__``, ``sys.argv``, the script's folder
first on ``sys.path``), except that the book's modules (``common.layers``,
``simple_convnet``, ``dataset.mnist``, ... : ``fastdl.book.BOOK_MODULES``)
are answered by fastdl's. ``--compare`` runs it a second time on the book's
own modules and says whether the two runs printed and wrote the same bytes.

Exit status: the script's (1 for an uncaught exception, with its traceback;
``sys.exit(n)``'s; 130 for Ctrl-C); 2 for fastdl's own errors (a bad option, a
missing script), one line on stderr. ``--compare`` exits 0 when the runs are
identical, 1 when they differ.
"""
import argparse
import builtins
import contextlib
import difflib
import functools
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import io
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

from fastdl._cli import INTERRUPTED, Parser, positive_int, seed_argument, terminate_cleanly
from fastdl._mode import MODES
from fastdl.book import BOOK_MODULES
from fastdl.chapter import DISTRIBUTION

PROG = "fastdl run"
USAGE_ERROR = 2
# The book side of --compare: the checkout's own modules, but fastdl's MNIST, so that both runs read the
# same images and the book's loader downloads nothing.
BOOK_SIDE_MODULES = {"dataset.mnist": BOOK_MODULES["dataset.mnist"]}
# `from <book module> import *` gives every name the book's module binds (it has no __all__): its own,
# numpy as `np`, and what it star-imports from the book's other modules.
BOOK_STAR_IMPORTS = {
    "common.layers": ("common.functions", "common.util"),
    "common.multi_layer_net": ("common.layers", "common.gradient"),
    "common.multi_layer_net_extend": ("common.layers", "common.gradient"),
    "common.trainer": ("common.optimizer",),
    "simple_convnet": ("common.layers", "common.gradient"),
    "deep_convnet": ("common.layers",),
}
# --compare copies the working folder's files into each run's own folder; past this it asks for a smaller one.
MAX_COPIED_BYTES = 256 << 20
DIFF_LINES = 20
SIDES = {"book": "the book's modules", "fastdl": "fastdl"}


class UsageError(Exception):
    """A mistake in the command (reported as one line, exit status 2)."""


def build_parser():
    """The argument parser of ``fastdl run``."""
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[1].replace("``", ""),
                     usage="%(prog)s [options] SCRIPT [ARGS...]")
    parser.add_argument("--seed", metavar="N", type=seed_argument,
                        help="call random.seed(N) and np.random.seed(N) before the script (with --compare: "
                             "default 0, so that both runs draw the same numbers)")
    parser.add_argument("--mode", choices=MODES,
                        help="fastdl's arithmetic: 'exact' gives the book's bits (default: fastdl's default)")
    parser.add_argument("--threads", metavar="N", type=positive_int,
                        help="compute threads of BLAS and OpenMP (default: left as they are)")
    parser.add_argument("--compare", action="store_true",
                        help="run the script on fastdl and on the book's own modules (from the checkout "
                             "above the script), each in a fresh process and folder; say whether what they "
                             "print and the files they write are identical, and how long each took")
    parser.add_argument("--save-figures", metavar="DIR", type=Path,
                        help="save each figure the script shows (plt.show()) as DIR/figure-NNN.png")
    # Used by --compare to start each side.
    parser.add_argument("--modules", choices=("fastdl", "book"), default="fastdl", help=argparse.SUPPRESS)
    parser.add_argument("--times", type=Path, help=argparse.SUPPRESS)
    # One positional taking the rest verbatim: the script's arguments are its own, options and "--" included.
    parser.add_argument("command", metavar="SCRIPT [ARGS...]", nargs=argparse.REMAINDER,
                        help="a script of the book (e.g. ch07/train_convnet.py) and its own arguments")
    return parser


def parse_args(argv=None):
    """``fastdl run``'s options, with ``script`` and the script's ``args`` split off ``command``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        del args.command[0]
    if not args.command:
        parser.error("the following argument is required: SCRIPT")
    args.script, *args.args = args.command
    return args


def main(argv=None):
    """Entry point of ``fastdl run``; returns the exit status (a script's ``sys.exit`` propagates)."""
    args = parse_args(argv)
    try:
        if args.threads is not None:
            _threadpoolctl()  # before either side of --compare starts
        script = _script_path(args.script)
        if args.compare:
            return compare(script, args)
        return run(script, args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED


def compare(script, args):
    """Run ``script`` on the book's modules, then on fastdl, each in a fresh process; print how they compare.

    Returns 0 when both exited alike, printed the same bytes and wrote the
    same files (by SHA-256), else 1.
    """
    checkout_modules = Path(os.path.realpath(script)).parent.parent / "common"
    if not checkout_modules.is_dir():
        raise UsageError(f"--compare runs the book's own modules too, but {str(checkout_modules)!r} is not a "
                         "folder: give a script in a chapter folder of the book's checkout")
    seed = 0 if args.seed is None else args.seed
    if args.save_figures is not None:  # before either run: a bad folder is the command's mistake
        for side in SIDES:
            _make_folder(args.save_figures.resolve() / side)
    # SIGTERM unwinds like Ctrl-C: the run under way is stopped and the folders removed.
    with terminate_cleanly(), tempfile.TemporaryDirectory(prefix="fastdl-run-") as scratch:
        runs = {side: _run_side(side, script, args, seed, Path(scratch)) for side in ("book", "fastdl")}
    return _print_comparison(script, seed, runs)


@dataclass
class _Run:
    """What one side of --compare did: exit status, stdout, files written (name -> SHA-256), seconds."""

    status: int
    stdout: bytes
    files: dict
    wall: float
    cpu: float | None


def _run_side(side, script, args, seed, scratch):
    work = _working_folder(scratch / side)
    before = _digests(work)
    times = scratch / f"{side}-times.json"
    command = [sys.executable, "-m", "fastdl", "run", "--modules", side, "--seed", str(seed), "--times", str(times)]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    if args.mode is not None and side == "fastdl":
        command += ["--mode", args.mode]
    # Figures are outputs too: each side saves them (in --save-figures DIR/book and DIR/fastdl if given).
    figures = scratch / f"{side}-figures" if args.save_figures is None else args.save_figures.resolve() / side
    command += ["--save-figures", str(figures)]
    print(f"{PROG}: {script.name} on {SIDES[side]} ...", file=sys.stderr, flush=True)
    # (whole seconds: some file systems keep modification times no finer)
    start, started = time.perf_counter(), time.time_ns() // 10**9 * 10**9
    # Off screen: a window would hold the run (and its time) until closed.
    process = subprocess.Popen([*command, str(script), *args.args], cwd=work, stdout=subprocess.PIPE,
                               env={**os.environ, "MPLBACKEND": "Agg"})
    try:
        stdout, _ = process.communicate()
    except BaseException:
        _stop(process)
        raise
    wall, cpu = time.perf_counter() - start, None
    # The script's own time (without Python's start-up and fastdl's imports), where it got to write it.
    with contextlib.suppress(OSError, ValueError):
        measured = json.loads(times.read_text())
        wall, cpu = measured["wall"], measured["cpu"]
    written = {name: digest for name, digest in _digests(work).items() if before.get(name) != digest}
    # This run's figures only: a --save-figures folder may hold an earlier run's, numbered alike.
    written.update({f"{name} (shown)": digest for name, digest in _digests(figures, since=started).items()})
    return _Run(process.returncode, stdout, written, wall, cpu)


def _stop(process):
    """Stop a --compare run after Ctrl-C or SIGTERM (a terminal sent it SIGINT too; a ``kill`` did not)."""
    with contextlib.suppress(OSError):
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _working_folder(root):
    """A folder that stands in for the current one during one run; returns it.

    The current folder's files are copied (a script may read them, and writes
    its own, e.g. ``params.pkl``); its folders, and the parent's other
    entries, are linked, so that paths such as ``../dataset/lena_gray.png``
    still reach what they reach from here.
    """
    here = Path.cwd()
    work = root / (here.name or "root")
    work.mkdir(parents=True)
    copied = 0
    for entry in here.iterdir():
        if entry.is_file():
            copied += entry.stat().st_size
            if copied > MAX_COPIED_BYTES:
                raise UsageError(f"--compare copies the files of the working folder for each run, and those of "
                                 f"{str(here)!r} pass {MAX_COPIED_BYTES >> 20} MiB: run it from a smaller folder")
            shutil.copyfile(entry, work / entry.name)
        else:
            _link(work / entry.name, entry)
    if here.parent != here:
        with contextlib.suppress(OSError):
            for entry in here.parent.iterdir():
                if entry.name != here.name:
                    _link(root / entry.name, entry)
    return work


def _link(link, target):
    # A convenience for scripts that read beside them; a system without symbolic links runs without it.
    with contextlib.suppress(OSError):
        link.symlink_to(target)


def _digests(folder, since=None):
    """SHA-256 of every file under ``folder`` (not following links; modified at ``since`` ns or later, if
    given), by path relative to it."""
    digests = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = Path(directory, name)
            if not path.is_symlink() and (since is None or path.stat().st_mtime_ns >= since):
                digests[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _print_comparison(script, seed, runs):
    book, fast = runs["book"], runs["fastdl"]
    if USAGE_ERROR in (book.status, fast.status):  # the side printed why, on stderr
        print(f"{PROG}: error: --compare: a run refused its command (exit status {USAGE_ERROR}); nothing compared",
              file=sys.stderr)
        return USAGE_ERROR
    print(f"{PROG} --compare {script} (seed {seed})")
    for side, done in runs.items():
        cpu = "" if done.cpu is None else f", {done.cpu:.2f} s CPU"
        print(f"  {SIDES[side]}: exit status {done.status}, {done.wall:.2f} s{cpu}")
    ratio = f"{book.wall / fast.wall:.2f}x" if fast.wall > 0 else "-"
    if book.cpu and fast.cpu:
        ratio += f" ({book.cpu / fast.cpu:.2f}x CPU)"
    print(f"  time, book / fastdl: {ratio}")
    identical = book.status == fast.status
    if not identical:
        print("  exit status: DIFFERENT")
    lines = book.stdout.decode(errors="replace").splitlines(), fast.stdout.decode(errors="replace").splitlines()
    if book.stdout == fast.stdout:
        print(f"  stdout: identical ({len(lines[0])} lines, sha256 {hashlib.sha256(book.stdout).hexdigest()[:16]})")
    else:
        identical = False
        print("  stdout: DIFFERENT; the first differing lines:")
        diff = difflib.unified_diff(*lines, "book", "fastdl", lineterm="", n=0)
        for line in itertools.islice(diff, DIFF_LINES):
            print(f"    {line}")
    for name in sorted(book.files.keys() | fast.files.keys()):
        digests = book.files.get(name), fast.files.get(name)
        if digests[0] == digests[1]:
            print(f"  {name}: identical (sha256 {digests[0][:16]})")
            continue
        identical = False
        if None in digests:
            print(f"  {name}: DIFFERENT: written by {'fastdl' if digests[0] is None else 'the book'} only")
        else:
            print(f"  {name}: DIFFERENT (sha256 {digests[0][:16]} book, {digests[1][:16]} fastdl)")
    print("identical" if identical else "DIFFERENT")
    return 0 if identical else 1


def _script_path(text):
    """The script's absolute path (its ``__file__``, as Python gives it: symbolic links kept)."""
    path = Path(os.path.abspath(text))
    if not path.exists():
        raise UsageError(f"can't open file {text!r}: no such file")
    if not path.is_file():
        raise UsageError(f"{text!r} is not a file")
    return path


def run(script, args):
    """Run ``script`` in this process with the book's modules answered by ``args.modules``'."""
    modules = BOOK_MODULES if args.modules == "fastdl" else BOOK_SIDE_MODULES
    with contextlib.ExitStack() as stack:
        if args.save_figures is not None:
            _save_figures_on_show(args.save_figures)
        if args.threads is not None:
            stack.enter_context(_threadpoolctl().threadpool_limits(args.threads))
        if args.mode is not None and args.modules == "fastdl":
            import fastdl
            stack.enter_context(fastdl.mode(args.mode))
        sys.meta_path.insert(0, BookFinder(modules))
        # What `python SCRIPT` puts first on sys.path (the real folder of the script), in place of the
        # entry of whatever started fastdl; nothing under -P or PYTHONSAFEPATH.
        if not getattr(sys.flags, "safe_path", False):
            sys.path[0] = os.path.dirname(os.path.realpath(script))
        if args.modules == "book":
            # The book's scripts find `common` through sys.path.append(os.pardir), relative to a working
            # folder in the checkout; --compare runs them elsewhere.
            sys.path.append(os.path.dirname(os.path.dirname(os.path.realpath(script))))
        sys.argv = [args.script, *args.args]
        if args.seed is not None:
            import numpy as np
            random.seed(args.seed)
            np.random.seed(args.seed)
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            return exec_script(script)
        finally:
            if args.times is not None:
                args.times.write_text(json.dumps({"wall": time.perf_counter() - start,
                                                  "cpu": time.process_time() - start_cpu}))


def exec_script(script):
    """Run the file ``script`` as ``__main__``, as ``python`` does; return 0, 1 (an error) or 130 (Ctrl-C).

    The script's own exceptions print their traceback from the script's frame
    on (through ``sys.excepthook``); ``SystemExit`` propagates.
    """
    main_module = types.ModuleType("__main__")
    main_module.__file__ = str(script)
    main_module.__cached__ = None
    main_module.__builtins__ = builtins
    main_module.__loader__ = importlib.machinery.SourceFileLoader("__main__", str(script))
    sys.modules["__main__"] = main_module
    try:
        with io.open_code(str(script)) as file:
            source = file.read()
        exec(compile(source, str(script), "exec", dont_inherit=True), main_module.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:
        traceback = exc.__traceback__
        while traceback is not None and traceback.tb_frame.f_code.co_filename != str(script):
            traceback = traceback.tb_next
        sys.excepthook(type(exc), exc.with_traceback(traceback), traceback)
        return INTERRUPTED if isinstance(exc, KeyboardInterrupt) else 1
    return 0


class BookFinder(importlib.abc.MetaPathFinder):
    """Answers the book's module names with views of fastdl's modules.

    ``modules`` maps a book module (``common.layers``) to the fastdl module
    that answers for it. Its package (``common``) is the checkout's where
    ``sys.path`` finds one (so its other modules still import), else an
    empty package.
    """

    def __init__(self, modules):
        self.modules = modules
        self.packages = {name.rpartition(".")[0] for name in modules} - {""}

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.modules:
            return importlib.machinery.ModuleSpec(fullname, _ModuleView(self.modules[fullname]))
        if fullname in self.packages and importlib.machinery.PathFinder.find_spec(fullname, path) is None:
            return importlib.machinery.ModuleSpec(fullname, _ModuleView(None), is_package=True)
        return None


class _ModuleView(importlib.abc.Loader):
    """Loads a book module as a view of the fastdl module ``target``: its names, under the book's name."""

    def __init__(self, target):
        self.target = target

    def exec_module(self, module):
        if self.target is None:
            return
        source = importlib.import_module(self.target)
        module.__doc__ = source.__doc__
        module.__dict__.update({name: value for name, value in vars(source).items() if not name.startswith("__")})
        public = star_namespace(module.__name__)
        if module.__name__ == "dataset.mnist":
            public["load_mnist"] = functools.wraps(source.load_mnist)(_load_mnist)
        module.__dict__.update(public)
        module.__all__ = sorted(public)


def star_namespace(book_module):
    """The names ``from <book_module> import *`` gives, answered by fastdl's modules.

    The book's modules define no ``__all__``, so a star import gives every
    name they bind: numpy as ``np``, what they star-import from each other
    (``BOOK_STAR_IMPORTS``) and their own public names.
    """
    import numpy as np
    names = {"np": np}
    for imported in BOOK_STAR_IMPORTS.get(book_module, ()):
        names.update(star_namespace(imported))
    source = importlib.import_module(BOOK_MODULES[book_module])
    names.update({name: getattr(source, name) for name in source.__all__})
    return names


def _load_mnist(*args, verbose=True, **kwargs):
    """The book's ``load_mnist``: fastdl's, saying on stderr which data it used (stdout is the script's)."""
    from fastdl.datasets import DatasetError, DataSourceWarning, load_mnist_with_source
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataSourceWarning)
        try:
            data, source = load_mnist_with_source(*args, verbose=False, **kwargs)
        except DatasetError as exc:  # no MNIST to read: the command's one line, not the script's traceback
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
    for warning in caught:
        if issubclass(warning.category, DataSourceWarning):
            print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if verbose:
        print(f"{PROG}: MNIST: {source.description}", file=sys.stderr)
    return data


def _make_folder(folder):
    """``folder`` and its parents, or a UsageError saying why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--save-figures: cannot create {str(folder)!r}: {exc.strerror}") from None


def _threadpoolctl():
    """The module ``--threads`` limits BLAS with, or a UsageError saying how to install it."""
    try:
        return importlib.import_module("threadpoolctl")
    except ModuleNotFoundError:
        raise UsageError(f"--threads needs threadpoolctl: pip install threadpoolctl, "
                         f"or pip install '{DISTRIBUTION}[chapter]'") from None


def _save_figures_on_show(folder):
    """Make ``plt.show()`` save every open figure as ``folder/figure-NNN.png`` (off screen) and close it.

    Without matplotlib there is nothing to do: a script that shows figures fails at its own import
    of matplotlib, as under ``python``.
    """
    _make_folder(folder)
    try:
        import matplotlib
    except ModuleNotFoundError:
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    numbers = itertools.count(1)

    def show(*args, **kwargs):
        for figure_number in plt.get_fignums():
            path = folder / f"figure-{next(numbers):03d}.png"
            plt.figure(figure_number).savefig(path)
            print(f"{PROG}: saved {path}", file=sys.stderr)
        # As when the windows are closed: the next show() saves only the figures made after this one.
        plt.close("all")

    plt.show = show
