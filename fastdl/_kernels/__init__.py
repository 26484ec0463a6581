"""Compiled Cython kernels: loops over raw pointers, no policy.

Every module follows one contract, written in ``README.md`` beside this
file: Python validates what memory safety needs before ``nogil``, and a
kernel that does not cover its arguments declines by its return value
(``None``; ``optim.update`` returns the index of the key it declined),
having written nothing, so the caller runs the reference. Import the
modules through ``fastdl._backend.load``, which decides what happens when
they are missing.
"""
