"""The book's modules and the fastdl modules that stand in for them.

"The book" is oreilly-japan/deep-learning-from-scratch at commit
``BOOK_COMMIT``; its signatures and defaults are fastdl's API. Every public
name of a book module exists, with the book's signature, in the fastdl
module that answers for it (``tests/test_book_signatures.py``), and
``fastdl run`` answers a script's imports of the book's modules with these.
"""

BOOK_REPOSITORY = "https://github.com/oreilly-japan/deep-learning-from-scratch"
BOOK_COMMIT = "07b1161"

#: Book module (as a script imports it) -> the fastdl module that answers for it.
BOOK_MODULES = {
    "common.functions": "fastdl.functions",
    "common.gradient": "fastdl.gradient",
    "common.layers": "fastdl.layers",
    "common.optimizer": "fastdl.optim",
    "common.multi_layer_net": "fastdl.nets",
    "common.multi_layer_net_extend": "fastdl.nets",
    "common.trainer": "fastdl.trainer",
    "common.util": "fastdl.util",
    "simple_convnet": "fastdl.nets",
    "deep_convnet": "fastdl.nets",
    "dataset.mnist": "fastdl.datasets",
}

#: Book module -> the module of ``fastdl.reference`` that reproduces it
#: (None: the data set loader has no reference, only ``fastdl.datasets``).
BOOK_REFERENCE_MODULES = {
    "common.functions": "fastdl.reference.functions",
    "common.gradient": "fastdl.reference.gradient",
    "common.layers": "fastdl.reference.layers",
    "common.optimizer": "fastdl.reference.optim",
    "common.multi_layer_net": "fastdl.reference.nets",
    "common.multi_layer_net_extend": "fastdl.reference.nets",
    "common.trainer": "fastdl.reference.trainer",
    "common.util": "fastdl.reference.util",
    "simple_convnet": "fastdl.reference.convnets",
    "deep_convnet": "fastdl.reference.convnets",
    "dataset.mnist": None,
}

__all__ = ["BOOK_REPOSITORY", "BOOK_COMMIT", "BOOK_MODULES", "BOOK_REFERENCE_MODULES"]
