# optim.pxi built with AVX2 (x86-64 only; setup.py adds -mavx2, still no FMA,
# so results are the same to the bit). fastdl._backend.load_fastest imports it
# only where fastdl._kernels.cpu.has_avx2() says the CPU and OS support AVX2.
include "optim.pxi"
