"""``python -m fastdl`` and the ``fastdl`` command: chapter 6's experiments, and ``fastdl run`` (see ``--help``)."""
import sys


def main():
    """Run ``fastdl run`` or the chapter's command line; explain what to install if the chapter's extra is missing."""
    if sys.argv[1:2] == ["run"]:  # the book's scripts: the standard library and NumPy suffice
        from fastdl.run import main as run_main
        return run_main(sys.argv[2:])
    from fastdl._cli import INTERRUPTED
    from fastdl.chapter import DISTRIBUTION
    try:
        from fastdl.chapter.cli import main as chapter_main
    except ModuleNotFoundError as exc:
        print(f"fastdl: error: the experiments need the 'chapter' extra ({exc}); "
              f"install it with: pip install '{DISTRIBUTION}[chapter]'", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastdl: interrupted", file=sys.stderr)
        return INTERRUPTED
    return chapter_main()


if __name__ == "__main__":
    sys.exit(main())
