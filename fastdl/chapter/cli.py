"""The ``fastdl`` command: run chapter 6's experiments, save figures, numbers and a report.

A user's mistake is one line on stderr, never a traceback: exit status 2 for
bad arguments, 1 for data that cannot be read, an output folder that cannot be
written or a Dask scheduler that cannot be reached, 130 for Ctrl-C.
"""
import argparse
import os
import re
import shlex
import sys
import warnings
from concurrent.futures import BrokenExecutor
from pathlib import Path

from threadpoolctl import threadpool_limits

import fastdl
from fastdl._cli import INTERRUPTED, Parser, positive_int, seed_argument, terminate_cleanly
from fastdl._mode import MODES, get_mode, mode
from fastdl.chapter import DISTRIBUTION
from fastdl.chapter.cluster import ClusterError, search_executor
from fastdl.chapter.data import load_chapter_data
from fastdl.chapter.report import write_report
from fastdl.chapter.runner import EXPERIMENTS, run_experiment
from fastdl.datasets import DatasetError, DownloadError

DESCRIPTION = """\
Reproduce the experiments of chapter 6 of "Deep Learning from Scratch" and save
each one's figures (PNG) and numbers (JSON) under --out; `all` also writes
report.md there. --scale quick runs everything in a few minutes; --scale book
uses the book's settings. Options may come before or after the experiment.
`fastdl run SCRIPT [ARGS...]` runs a script of the book on fastdl (see
`fastdl run --help`)."""
OFFLINE_HINT = ("offline? use --data DIR (a folder of MNIST IDX files), set $FASTDL_MNIST_DIR, "
                "or use --data embedded (the 10,000-image test set shipped with fastdl)")
def _data_argument(text):
    if text in ("embedded", "mnist") or Path(text).is_dir():
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is neither 'embedded', 'mnist' nor an existing directory")


def _out_argument(text):
    path = Path(text)
    for folder in (path, *path.parents):
        if folder.exists() and not folder.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r}: {str(folder)!r} exists and is not a folder")
    return path


def _add_common_options(parser, defaults):
    """Options of every experiment; ``defaults=False`` leaves values given before the experiment alone."""
    def default(value):
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--backend", choices=("fastdl", "reference", "both"), default=default("fastdl"),
                        help="implementation to run; 'both' runs the two and compares their times "
                             "(default: fastdl)")
    parser.add_argument("--scale", choices=("quick", "book"), default=default("quick"),
                        help="'quick': all experiments in a few minutes; 'book': the book's settings "
                             "(default: quick)")
    parser.add_argument("--seed", type=seed_argument, default=default(0), help="seed of every experiment (default: 0)")
    parser.add_argument("--out", type=_out_argument, default=default(Path("fastdl-out")),
                        help="folder for figures, JSON and report.md (default: fastdl-out)")
    parser.add_argument("--data", type=_data_argument, default=default("embedded"),
                        help="MNIST source: 'embedded' (the real 10,000-image test set shipped with fastdl, "
                             "split 8,000 train / 2,000 test), 'mnist' (IDX files in $FASTDL_MNIST_DIR or "
                             "the cache, else a download), or a directory of IDX files (default: embedded)")
    parser.add_argument("--mode", choices=MODES, default=default(get_mode()),
                        help="'exact': the book's numbers bit for bit; 'fast': fastdl.nets may reorder sums "
                             "and fuse layers, within the bounds of docs/SPEC.md (default: $FASTDL_MODE, "
                             "else exact)")
    parser.add_argument("--threads", type=positive_int, default=default(1),
                        help="compute threads of BLAS and OpenMP (default: 1; at the chapter's matrix sizes "
                             "more threads mostly add overhead, and one makes timings steadier)")


def _add_trial_options(parser):
    """Options of the experiments that run independent trials (the search, and ``all``)."""
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                        help="processes for the trials (default: the CPU count, here %(default)s)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="run the trials on the Dask scheduler at ADDRESS (e.g. tcp://scheduler:8786), "
                             "or on a local cluster of --workers processes ('local')")


def _summary(docstring):
    """A module docstring's first paragraph as plain text for --help (no ``literal`` or :role:`markup`)."""
    text = (docstring or "").strip().split("\n\n")[0]
    text = re.sub(r":\w+:`~?([^`]*)`", r"\1", text)
    return re.sub(r"``([^`]*)``", r"\1", text)


def build_parser():
    """The argument parser: one subcommand per experiment, and ``all``."""
    parser = Parser(prog="fastdl", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastdl {fastdl.__version__}")
    _add_common_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", metavar="EXPERIMENT", required=True)
    for name, module in EXPERIMENTS.items():
        subparser = commands.add_parser(name, help=module.TITLE, description=_summary(module.__doc__))
        _add_common_options(subparser, defaults=False)
        if getattr(module, "RUNS_TRIALS", False):
            _add_trial_options(subparser)
    subparser = commands.add_parser("all", help="every experiment above, then report.md")
    _add_common_options(subparser, defaults=False)
    _add_trial_options(subparser)
    for subparser in commands.choices.values():
        subparser.error = parser.error
    return parser


def main(argv=None):
    """Entry point of ``fastdl`` and ``python -m fastdl``; returns the exit status."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings(), terminate_cleanly():
        warnings.showwarning = _show_warning
        return _run(args, argv)


def _run(args, argv):
    names = list(EXPERIMENTS) if args.command == "all" else [args.command]
    records, data, status = [], None, 0
    try:
        if any(EXPERIMENTS[name].NEEDS_MNIST for name in names):
            data = load_chapter_data(args.data)
        with mode(args.mode), threadpool_limits(args.threads), search_executor(getattr(args, "dask", None),
                                                              getattr(args, "workers", 1)) as executor:
            for name in names:
                for backend in _backends(args.backend):
                    options = {}
                    if getattr(EXPERIMENTS[name], "RUNS_TRIALS", False):
                        options = {"executor": executor, "workers": args.workers}
                    record = run_experiment(name, backend, args.scale, data, args.out, seed=args.seed, **options)
                    _print_record(record, args.out)
                    records.append(record)
    except KeyboardInterrupt:
        print("fastdl: interrupted", file=sys.stderr)
        status = INTERRUPTED
    except DownloadError as exc:
        return _fail(f"{exc} ({OFFLINE_HINT})")
    except (DatasetError, ClusterError) as exc:
        return _fail(exc)
    except OSError as exc:
        return _fail(f"cannot write the results: {exc}")
    except BrokenExecutor as exc:
        return _fail(f"a search worker stopped unexpectedly (out of memory?): {exc}")
    except ModuleNotFoundError as exc:
        if not getattr(args, "dask", None):
            raise
        return _fail(f"a Dask worker cannot import {exc.name!r}: install "
                     f"'{DISTRIBUTION}[chapter]=={fastdl.__version__}' on every worker")
    if args.command == "all":
        command = "fastdl " + shlex.join(sys.argv[1:] if argv is None else argv)
        try:
            _write_report(records, names, len(_backends(args.backend)), args.out, command, data)
        except OSError as exc:
            return _fail(f"cannot write the report: {exc}")
    return status


def _write_report(records, names, n_backends, out_dir, command, data):
    """``report.md`` of the experiments that finished on every backend (all of them unless interrupted)."""
    runs = {}
    for record in records:
        runs[record["experiment"]] = runs.get(record["experiment"], 0) + 1
    finished = [record for record in records if runs[record["experiment"]] == n_backends]
    if not finished:
        return
    unfinished = [name for name in names if runs.get(name, 0) < n_backends]
    report = write_report(finished, out_dir, command, data.source if data is not None else None, unfinished)
    print(f"report: {report}")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning (e.g. a data source that failed and was replaced) as one line."""
    print(f"fastdl: warning: {message}", file=sys.stderr)


def _fail(message):
    print(f"fastdl: error: {message}", file=sys.stderr)
    return 1


def _backends(choice):
    return ["reference", "fastdl"] if choice == "both" else [choice]


def _print_record(record, out_dir):
    print(f"{record['experiment']} [{record['backend']}] {record['seconds']:.1f} s")
    for key, value in record["summary"].items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    for figure in record["figures"]:
        print(f"  figure: {Path(out_dir) / figure}")
