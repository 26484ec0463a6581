"""Every public name of the book's modules, with the book's signature, in fastdl.

The book's signatures are data (``tests/data/book_signatures.json``), read
from the book's sources with ``ast`` (the book is never imported) by
:func:`book_signatures`. Regenerate them from a git copy of the book::

    python tests/test_book_signatures.py /path/to/deep-learning-from-scratch > tests/data/book_signatures.json

For every book module, its public functions and classes, and each class's
``__init__`` and public methods, must exist in the fastdl module that
answers for it (``fastdl.book.BOOK_MODULES``) and in the reference module
(``fastdl.book.BOOK_REFERENCE_MODULES``) with the same parameters: names,
order, kinds and defaults. fastdl may add keyword-only parameters with
defaults (``Dropout(rng=)``, the optimizers' ``weight_decay=``, ...).
"""
import ast
import importlib
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastdl.book import BOOK_COMMIT, BOOK_MODULES, BOOK_REFERENCE_MODULES, BOOK_REPOSITORY

DATA = Path(__file__).parent / "data" / "book_signatures.json"

#: Book module -> its source file in the book's repository.
BOOK_FILES = {
    "common.functions": "common/functions.py",
    "common.gradient": "common/gradient.py",
    "common.layers": "common/layers.py",
    "common.optimizer": "common/optimizer.py",
    "common.multi_layer_net": "common/multi_layer_net.py",
    "common.multi_layer_net_extend": "common/multi_layer_net_extend.py",
    "common.trainer": "common/trainer.py",
    "common.util": "common/util.py",
    "simple_convnet": "ch07/simple_convnet.py",
    "deep_convnet": "ch08/deep_convnet.py",
    "dataset.mnist": "dataset/mnist.py",
}

_KINDS = {
    "posonlyargs": "POSITIONAL_ONLY", "args": "POSITIONAL_OR_KEYWORD", "vararg": "VAR_POSITIONAL",
    "kwonlyargs": "KEYWORD_ONLY", "kwarg": "VAR_KEYWORD",
}


def _public(name):
    return not name.startswith("_")


def _parameters(signature):
    """``[name, kind, default source or None]`` per parameter of a signature written as ``"(a, b=1)"``."""
    args = ast.parse(f"def f{signature}: pass").body[0].args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + args.defaults
    params = [[a.arg, _KINDS["posonlyargs" if a in args.posonlyargs else "args"], d] for a, d in zip(positional, defaults)]
    if args.vararg:
        params.append([args.vararg.arg, _KINDS["vararg"], None])
    params += [[a.arg, _KINDS["kwonlyargs"], d] for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        params.append([args.kwarg.arg, _KINDS["kwarg"], None])
    return [[name, kind, None if default is None else ast.unparse(default)] for name, kind, default in params]


def book_signatures(book_git_dir, commit=BOOK_COMMIT):
    """The public functions, classes and methods of the book's modules at ``commit``, as JSON-ready data."""
    modules = {}
    for module, path in BOOK_FILES.items():
        source = subprocess.run(["git", "-C", str(book_git_dir), "show", f"{commit}:{path}"],
                                check=True, capture_output=True, text=True).stdout
        functions, classes = {}, {}
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and _public(node.name):
                functions[node.name] = f"({ast.unparse(node.args)})"
            elif isinstance(node, ast.ClassDef) and _public(node.name):
                classes[node.name] = {
                    item.name: f"({ast.unparse(item.args)})" for item in node.body
                    if isinstance(item, ast.FunctionDef) and (item.name == "__init__" or _public(item.name))}
        modules[module] = {"functions": functions, "classes": classes}
    return {"repository": BOOK_REPOSITORY, "commit": commit, "modules": modules}


def differences(book_signature, fastdl_function):
    """How ``fastdl_function``'s parameters differ from ``book_signature``'s (empty if they agree).

    fastdl's own keyword-only parameters with defaults are left out first.
    """
    book_params = _parameters(book_signature)
    book_names = {name for name, _, _ in book_params}
    ours = [p for p in inspect.signature(fastdl_function).parameters.values()
            if not (p.kind is p.KEYWORD_ONLY and p.default is not p.empty and p.name not in book_names)]
    found = []
    if [p.name for p in ours] != [name for name, _, _ in book_params]:
        return [f"parameters {[p.name for p in ours]} where the book has {[name for name, _, _ in book_params]}"]
    for p, (name, kind, default) in zip(ours, book_params):
        if p.kind.name != kind:
            found.append(f"{name} is {p.kind.name}, the book's is {kind}")
        if default is None:
            if p.default is not p.empty:
                found.append(f"{name} has the default {p.default!r}, the book's has none")
        else:
            expected = ast.literal_eval(default)
            if p.default is p.empty or type(p.default) is not type(expected) or p.default != expected:
                shown = "none" if p.default is p.empty else repr(p.default)
                found.append(f"{name} defaults to {shown}, the book's to {default}")
    return found


def _load():
    return json.loads(DATA.read_text(encoding="utf-8"))


def _cases():
    for book_module, names in _load()["modules"].items():
        for side, table in (("fastdl", BOOK_MODULES), ("reference", BOOK_REFERENCE_MODULES)):
            if table[book_module] is None:
                continue
            for kind, entries in names.items():
                for name, signature in entries.items():
                    yield pytest.param(table[book_module], kind, name, signature, id=f"{side}:{book_module}.{name}")


def test_the_data_is_the_books_commit():
    data = _load()
    assert data["commit"] == BOOK_COMMIT and data["repository"] == BOOK_REPOSITORY
    assert set(data["modules"]) == set(BOOK_FILES) == set(BOOK_MODULES) == set(BOOK_REFERENCE_MODULES)
    assert data["modules"]["common.layers"]["classes"]["Pooling"]["__init__"] == "(self, pool_h, pool_w, stride=2, pad=0)"


@pytest.mark.skipif(not os.environ.get("FASTDL_BOOK_GIT"),
                    reason="set FASTDL_BOOK_GIT to a git copy of the book to check the data against it")
def test_the_data_matches_the_book():
    assert book_signatures(os.environ["FASTDL_BOOK_GIT"]) == _load()


@pytest.mark.parametrize("module, kind, name, book", list(_cases()))
def test_fastdl_has_the_books_signature(module, kind, name, book):
    obj = getattr(importlib.import_module(module), name, None)
    assert obj is not None, f"{module} has no {name}"
    if kind == "functions":
        assert callable(obj) and not inspect.isclass(obj)
        assert differences(book, obj) == []
    else:
        assert inspect.isclass(obj)
        found = {method: ["missing"] if getattr(obj, method, None) is None else differences(signature, getattr(obj, method))
                 for method, signature in book.items()}
        assert found == {method: [] for method in book}


def test_a_signature_that_differs_from_the_books_is_reported():
    book = _load()["modules"]["common.layers"]["classes"]["Pooling"]["__init__"]

    def stride_one(self, pool_h, pool_w, stride=1, pad=0): ...

    def stride_float(self, pool_h, pool_w, stride=2.0, pad=0): ...

    def swapped(self, pool_w, pool_h, stride=2, pad=0): ...

    def keyword_only(self, pool_h, pool_w, *, stride=2, pad=0): ...

    def extra_positional(self, pool_h, pool_w, stride=2, pad=0, dtype=None): ...

    def extra_keyword_only(self, pool_h, pool_w, stride=2, pad=0, *, dtype=None): ...

    assert differences(book, stride_one) == ["stride defaults to 1, the book's to 2"]
    assert differences(book, stride_float) == ["stride defaults to 2.0, the book's to 2"]
    assert differences(book, swapped) != []
    assert differences(book, keyword_only) == ["stride is KEYWORD_ONLY, the book's is POSITIONAL_OR_KEYWORD",
                                               "pad is KEYWORD_ONLY, the book's is POSITIONAL_OR_KEYWORD"]
    assert differences(book, extra_positional) != []
    assert differences(book, extra_keyword_only) == []


if __name__ == "__main__":
    json.dump(book_signatures(sys.argv[1]), sys.stdout, indent=1)
    sys.stdout.write("\n")
