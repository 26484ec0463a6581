# batchnorm.pxi built with AVX2, as optim_avx2.pyx is. At the book's size
# (100 x 100) the kernels are bound by their true divisions, which AVX2 does
# four float64 at a time instead of two.
include "batchnorm.pxi"
