# Design: optim.pyx again, compiled with AVX2 enabled (setup.py adds the
# flag for every *_avx2 module on x86-64; still no FMA contraction, so the
# results are the same to the bit). fastdl._backend.load_fastest imports
# it only where fastdl._kernels.cpu.has_avx2() says the CPU and OS support
# AVX2, so wheels run on any x86-64. Twice the vector width halves the
# time where the kernels are bound by division and square root rather than
# by memory.
include "optim.pyx"
