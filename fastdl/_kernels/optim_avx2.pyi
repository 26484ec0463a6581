# The same module as optim, built for AVX2.
from fastdl._kernels.optim import OPTIONS as OPTIONS
from fastdl._kernels.optim import RULES as RULES
from fastdl._kernels.optim import update as update
