# fastconv.pxi built with AVX2, as optim_avx2.pyx is: its copies, sums and 2x2 pooling
# take 32-byte vectors.
include "fastconv.pxi"
