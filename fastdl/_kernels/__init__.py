"""Compiled Cython kernels: loops over raw pointers, no policy.

Import them through ``fastdl._backend.load``, which decides what happens
when they are missing.
"""
