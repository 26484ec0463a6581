"""``fastdl run``: book-shaped scripts (ours) run as ``python`` runs them, on fastdl's modules."""
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from fastdl.datasets import mnist
from fastdl import run
from fastdl.run import star_namespace

TIMEOUT = 120


@pytest.fixture
def chapter(tmp_path):
    """A book checkout's chapter folder, ``book/ch07``, beside the book's ``common/`` (ours: see ``write_book``)."""
    folder = tmp_path / "book" / "ch07"
    folder.mkdir(parents=True)
    return folder


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def write_book(book, relu="out = x.copy(); out[x <= 0] = 0"):
    """A tiny stand-in for the book's own modules: ``common.layers.Relu`` computing ``relu``."""
    write(book / "common" / "__init__.py", "")
    write(book / "common" / "layers.py", f"""\
        class Relu:
            def forward(self, x):
                {relu}
                return out
        """)
    write(book / "common" / "extra.py", "ANSWER = 42\n")
    # Never imported: dataset.mnist is fastdl's on both sides of --compare.
    write(book / "dataset" / "__init__.py", "")
    write(book / "dataset" / "mnist.py", "raise RuntimeError('the book downloads MNIST')\n")


def fastdl_run(*args, cwd=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "fastdl", "run", *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=cwd, env=environment(), check=False, **kwargs)


def environment():
    # The embedded test set, read as a folder of IDX files: no download is ever tried.
    return {**os.environ, "FASTDL_MNIST_DIR": str(mnist.EMBEDDED_DIR), "MPLBACKEND": "Agg",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def test_the_script_runs_as_python_runs_it(chapter):
    script = write(chapter / "where.py", """\
        import json, os, sys
        sys.path.append(os.pardir)
        print(json.dumps({"name": __name__, "file": __file__, "argv": sys.argv, "path0": sys.path[0]}))
        """)
    arguments = ["where.py", "--seed", "3", "-h", "--", "x y"]
    python = subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=TIMEOUT,
                            cwd=chapter, check=True)
    done = fastdl_run(*arguments, cwd=chapter)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(python.stdout) == {
        "name": "__main__", "file": str(script), "argv": arguments, "path0": str(chapter)}


def test_the_books_modules_are_fastdls(chapter):
    write_book(chapter.parent)
    # The script's folder's own modules lose to fastdl's, as the table says.
    write(chapter / "simple_convnet.py", "raise RuntimeError('the book\\'s SimpleConvNet')\n")
    write(chapter / "book_shaped.py", """\
        import sys, os
        sys.path.append(os.pardir)
        from common.layers import *
        from common.optimizer import *
        import common.util
        from common.functions import softmax as functions_softmax
        from common.gradient import numerical_gradient
        from common.multi_layer_net import MultiLayerNet
        from common.multi_layer_net_extend import MultiLayerNetExtend
        from common.trainer import Trainer
        from common.extra import ANSWER
        from simple_convnet import SimpleConvNet
        from deep_convnet import DeepConvNet
        from dataset.mnist import load_mnist

        (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
        print(x_train.shape, x_test.shape, t_train[:5])
        # np comes with `from common.optimizer import *`, softmax with `from common.layers import *`, as in the book.
        print(softmax is functions_softmax, np.__name__, ANSWER)
        classes = [Relu, Convolution, Pooling, SGD, Adam, MultiLayerNet, MultiLayerNetExtend, Trainer,
                   SimpleConvNet, DeepConvNet]
        print(sorted({cls.__module__ for cls in classes}), common.util.im2col.__module__)
        network = SimpleConvNet()
        print(network.predict(x_test[:2]).shape, DeepConvNet().predict(x_test[:1]).shape)
        """)
    done = fastdl_run("book_shaped.py", cwd=chapter)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "(8000, 1, 28, 28) (2000, 1, 28, 28) [7 2 1 0 4]",
        "True numpy 42",
        "['fastdl.layers', 'fastdl.nets', 'fastdl.optim', 'fastdl.trainer'] fastdl.util",
        "(2, 10) (1, 10)",
    ]
    # One line says which data the script got; nothing else on stderr.
    assert done.stderr.splitlines() == [f"fastdl run: MNIST: {embedded_source().description}"]


def embedded_source():
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv(mnist.ENV_DIR, str(mnist.EMBEDDED_DIR))
        return mnist.load_mnist_with_source(verbose=False)[1]


def test_star_imports_give_the_books_names():
    layers = star_namespace("common.layers")
    assert {"Relu", "Convolution", "softmax", "cross_entropy_error", "im2col", "col2im", "np"} <= layers.keys()
    assert {"SGD", "Adam", "np"} <= star_namespace("common.trainer").keys()
    assert {"SimpleConvNet", "Relu", "numerical_gradient"} <= star_namespace("simple_convnet").keys()


def test_seed_seeds_random_and_numpy(chapter):
    write(chapter / "draw.py", "import random, numpy as np\nprint(repr(random.random()), repr(np.random.rand()))\n")
    random.seed(12)
    np.random.seed(12)
    expected = f"{random.random()!r} {np.random.rand()!r}\n"
    assert fastdl_run("--seed", 12, "draw.py", cwd=chapter).stdout == expected
    assert fastdl_run("--seed", 13, "draw.py", cwd=chapter).stdout != expected


def test_threads_limits_blas(chapter):
    write(chapter / "threads.py", """\
        import numpy as np
        from threadpoolctl import threadpool_info
        print(sorted({pool["num_threads"] for pool in threadpool_info()}))
        """)
    done = fastdl_run("--threads", 1, "threads.py", cwd=chapter)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[1]\n"


def test_runs_without_the_chapter_extra(chapter, tmp_path):
    """A plain install (NumPy only) runs the book's scripts; --threads says what it needs."""
    write(chapter / "plain.py", "from common.functions import softmax\nprint(softmax([0.0, 0.0]))\n")
    without_extras = textwrap.dedent("""\
        import sys
        for name in ("matplotlib", "tqdm", "threadpoolctl", "dask"):
            sys.modules[name] = None  # import raises ModuleNotFoundError
        sys.argv = ["fastdl", *sys.argv[1:]]
        from fastdl.__main__ import main
        sys.exit(main())
        """)

    def plain(*args):
        return subprocess.run([sys.executable, "-c", without_extras, "run", *map(str, args)], capture_output=True,
                              text=True, timeout=TIMEOUT, cwd=chapter, env=environment(), check=False)
    for args in (["plain.py"], ["--save-figures", tmp_path / "figures", "plain.py"]):
        done = plain(*args)
        assert (done.returncode, done.stdout, done.stderr) == (0, "[0.5 0.5]\n", ""), args
    done = plain("--threads", 2, "plain.py")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("fastdl run: error: --threads needs threadpoolctl: pip install threadpoolctl, "
                           "or pip install 'fastdl-scratch[chapter]'\n")


@pytest.mark.parametrize(("body", "status", "stderr_end"), [
    ("def train():\n    raise ValueError('bad batch')\ntrain()\n", 1, "ValueError: bad batch"),
    ("import sys\nsys.exit(3)\n", 3, ""),
    ("import sys\nsys.exit('giving up')\n", 1, "giving up"),
    ("print('ok'\n", 1, "SyntaxError: '(' was never closed"),
])
def test_the_scripts_errors_are_pythons(chapter, body, status, stderr_end):
    script = write(chapter / "failing.py", body)
    done = fastdl_run("failing.py", cwd=chapter)
    python = subprocess.run([sys.executable, "failing.py"], capture_output=True, text=True, timeout=TIMEOUT,
                            cwd=chapter, check=False)
    assert done.returncode == python.returncode == status
    assert done.stderr.strip().endswith(stderr_end)
    # The same traceback python prints: from the script's frame on, none of fastdl's.
    assert done.stderr == python.stderr.replace('"failing.py"', f'"{script}"')
    assert "fastdl" not in done.stderr


def interrupted(process, ready):
    """Ctrl-C to ``process`` once ``ready()`` is true: its stderr; the process is never left running."""
    try:
        ready()
        process.send_signal(signal.SIGINT)
        return process.communicate(timeout=30)[1]
    finally:
        process.kill()
        process.communicate()


def test_ctrl_c_exits_130(chapter):
    write(chapter / "long.py", "import time\nprint('training', flush=True)\ntime.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-m", "fastdl", "run", "long.py"], cwd=chapter, env=environment(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def training():
        assert process.stdout.readline() == "training\n"
    stderr = interrupted(process, training)
    assert process.returncode == 130
    assert stderr.strip().endswith("KeyboardInterrupt")


def test_ctrl_c_stops_both_sides_of_compare(chapter):
    write_book(chapter.parent)
    started = chapter.parent / "started"
    write(chapter / "long.py", f"""\
        import os, time
        with open({str(started)!r}, "w") as file:
            file.write(str(os.getpid()))
        time.sleep(60)
        """)
    process = subprocess.Popen([sys.executable, "-m", "fastdl", "run", "--compare", "long.py"], cwd=chapter,
                               env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def script_started():
        deadline = time.monotonic() + TIMEOUT
        while not started.exists() or not started.read_text():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
    # To fastdl run only (a terminal would signal the script too): it stops the script itself.
    stderr = interrupted(process, script_started)
    assert process.returncode == 130
    assert stderr.endswith("fastdl run: interrupted\n")
    with pytest.raises(ProcessLookupError):
        os.kill(int(started.read_text()), 0)


@pytest.mark.parametrize(("args", "message"), [
    (["missing.py"], "fastdl run: error: can't open file 'missing.py': no such file"),
    (["."], "fastdl run: error: '.' is not a file"),
    ([], "fastdl run: error: the following argument is required: SCRIPT (see --help)"),
    (["--seed", "-1", "ok.py"], "fastdl run: error: argument --seed: expected an integer from 0 to 2**32 - 1, "
                                "got '-1' (see --help)"),
    (["--threads", "0", "ok.py"], "fastdl run: error: argument --threads: expected a positive integer, got '0' "
                                  "(see --help)"),
    (["--mode", "fastest", "ok.py"], "fastdl run: error: argument --mode: invalid choice: 'fastest' "
                                     "(choose from 'exact', 'fast') (see --help)"),
    (["--compare", "ok.py"], "fastdl run: error: --compare runs the book's own modules too, but "),
])
def test_fastdls_own_errors_are_one_line_and_exit_2(chapter, monkeypatch, capsys, args, message):
    write(chapter / "ok.py", "print('ran')\n")
    monkeypatch.chdir(chapter)
    try:
        status = run.main(args)
    except SystemExit as exc:  # argparse's own exit
        status = exc.code
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith(message)


def test_mode(chapter):
    write(chapter / "mode.py", "import fastdl\nprint(fastdl.get_mode())\n")
    assert fastdl_run("mode.py", cwd=chapter).stdout == "exact\n"
    assert fastdl_run("--mode", "exact", "mode.py", cwd=chapter).stdout == "exact\n"
    done = fastdl_run("--mode", "fast", "mode.py", cwd=chapter)
    assert (done.returncode, done.stdout) == (0, "fast\n")


COMPARED = """\
    import sys, os
    sys.path.append(os.pardir)
    import matplotlib.pyplot as plt
    import numpy as np
    from common.layers import Relu
    from dataset.mnist import load_mnist

    (x_train, t_train), _ = load_mnist()
    with open("input.txt") as file:
        scale = float(file.read())
    out = Relu().forward(scale * np.random.randn(4))
    for value in out:
        print(value)
    np.save("out.npy", out)
    os.mkdir("results")
    with open("results/log.txt", "w") as file:
        file.write("done")
    plt.plot(out)
    plt.show()
    """


def test_compare_identical(chapter, tmp_path):
    write_book(chapter.parent)
    write(chapter / "compared.py", COMPARED)
    write(chapter / "input.txt", "2.0")
    done = fastdl_run("--compare", "compared.py", cwd=chapter)
    assert done.returncode == 0, done.stdout + done.stderr
    report = done.stdout.splitlines()
    assert report[0] == f"fastdl run --compare {chapter / 'compared.py'} (seed 0)"
    assert report[1].startswith("  the book's modules: exit status 0, ")
    assert report[2].startswith("  fastdl: exit status 0, ")
    assert report[3].startswith("  time, book / fastdl: ")
    assert report[4].startswith("  stdout: identical (4 lines, sha256 ")
    # The figures shown are compared too.
    assert report[5].startswith("  figure-001.png (shown): identical (sha256 ")
    assert report[6].startswith("  out.npy: identical (sha256 ")
    assert report[7].startswith("  results/log.txt: identical (sha256 ")
    assert report[8:] == ["identical"]
    # Each run wrote in a folder of its own; the working folder is as it was.
    assert sorted(path.name for path in chapter.iterdir()) == ["compared.py", "input.txt"]


def test_compare_counts_only_this_runs_figures(chapter, tmp_path):
    """A --save-figures folder holding an earlier run's figures (numbered alike): they are not this run's."""
    write_book(chapter.parent)
    write(chapter / "compared.py", COMPARED)
    write(chapter / "input.txt", "2.0")
    figures = tmp_path / "figures"
    for side in ("book", "fastdl"):
        (figures / side).mkdir(parents=True)
        earlier = figures / side / "figure-002.png"  # an earlier, longer run's, a minute ago
        earlier.write_bytes(side.encode())
        os.utime(earlier, (time.time() - 60, time.time() - 60))
    done = fastdl_run("--compare", "--save-figures", figures, "compared.py", cwd=chapter)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "figure-001.png (shown): identical" in done.stdout and "figure-002" not in done.stdout


def test_no_mnist_to_read_is_one_line(monkeypatch, capsys):
    from fastdl import datasets

    def load_mnist_with_source(*args, **kwargs):
        raise datasets.DatasetError("t10k-images-idx3-ubyte.gz: not an IDX file")

    monkeypatch.setattr(datasets, "load_mnist_with_source", load_mnist_with_source)
    with pytest.raises(SystemExit) as stopped:
        run._load_mnist()
    assert stopped.value.code == 1
    assert capsys.readouterr().err == "fastdl run: error: t10k-images-idx3-ubyte.gz: not an IDX file\n"


def test_compare_differing(chapter):
    write_book(chapter.parent, relu="out = 2 * x")
    write(chapter / "compared.py", COMPARED)
    write(chapter / "input.txt", "2.0")
    done = fastdl_run("--compare", "--seed", 5, "compared.py", cwd=chapter)
    assert done.returncode == 1
    report = done.stdout.splitlines()
    assert report[0].endswith("(seed 5)")
    assert report[4] == "  stdout: DIFFERENT; the first differing lines:"
    np.random.seed(5)
    drawn = 2.0 * np.random.randn(4)
    book, ours = [str(value) for value in 2 * drawn], [str(max(value, 0.0)) for value in drawn]
    assert report[5:16] == ["    --- book", "    +++ fastdl", "    @@ -1,4 +1,4 @@",
                            *(f"    -{line}" for line in book), *(f"    +{line}" for line in ours)]
    assert [line for line in report if "out.npy" in line][0].startswith("  out.npy: DIFFERENT (sha256 ")
    assert "  results/log.txt: identical" in "\n".join(report)
    assert [line for line in report if "figure-001.png" in line][0].startswith("  figure-001.png (shown): DIFFERENT")
    assert report[-1] == "DIFFERENT"


def test_save_figures(chapter, tmp_path):
    write(chapter / "plots.py", """\
        import matplotlib.pyplot as plt
        plt.plot([1, 2, 3])
        plt.figure()
        plt.plot([3, 2, 1])
        plt.show()
        plt.plot([0, 1])
        plt.show()
        print("shown")
        """)
    figures = tmp_path / "figures"
    done = fastdl_run("--save-figures", figures, "plots.py", cwd=chapter)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "shown\n"
    names = ["figure-001.png", "figure-002.png", "figure-003.png"]
    assert sorted(path.name for path in figures.iterdir()) == names
    for name in names:
        assert (figures / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert done.stderr.splitlines() == [f"fastdl run: saved {figures / name}" for name in names]


def test_compare_refuses_a_figures_folder_it_cannot_create(chapter, tmp_path):
    """Both runs refused it, and --compare reported them identical, exit status 0."""
    write_book(chapter.parent)
    write(chapter / "ok.py", "print('ran')\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = fastdl_run("--compare", "--save-figures", blocker / "figures", "ok.py", cwd=chapter)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"fastdl run: error: --save-figures: cannot create {str(blocker / 'figures' / 'book')!r}: Not a directory"]
