"""``python -m fastdl`` and the ``fastdl`` command: chapter 6's experiments (see ``--help``)."""
import sys


def main():
    """Run the chapter's command line; explain what to install if its extra is missing."""
    from fastdl.chapter import DISTRIBUTION
    try:
        from fastdl.chapter.cli import main as chapter_main
    except ModuleNotFoundError as exc:
        print(f"fastdl: error: the experiments need the 'chapter' extra ({exc}); "
              f"install it with: pip install '{DISTRIBUTION}[chapter]'", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastdl: interrupted", file=sys.stderr)
        return 130
    return chapter_main()


if __name__ == "__main__":
    sys.exit(main())
