# The same module as batchnorm, built for AVX2.
from fastdl._kernels.batchnorm import backward_kernel as backward_kernel
from fastdl._kernels.batchnorm import forward_test_kernel as forward_test_kernel
from fastdl._kernels.batchnorm import forward_train_kernel as forward_train_kernel
