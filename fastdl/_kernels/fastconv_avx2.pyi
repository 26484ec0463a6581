# The same module as fastconv, built for AVX2.
from fastdl._kernels.fastconv import bias_relu_block as bias_relu_block
from fastdl._kernels.fastconv import bias_relu_pool_block as bias_relu_pool_block
from fastdl._kernels.fastconv import col2im_block as col2im_block
from fastdl._kernels.fastconv import conv_backward as conv_backward
from fastdl._kernels.fastconv import conv_forward as conv_forward
from fastdl._kernels.fastconv import gradient_block as gradient_block
from fastdl._kernels.fastconv import im2col_block as im2col_block
from fastdl._kernels.fastconv import im2col_planes as im2col_planes
from fastdl._kernels.fastconv import pool_backward as pool_backward
from fastdl._kernels.fastconv import pool_forward as pool_forward
from fastdl._kernels.fastconv import pool_gradient_block as pool_gradient_block
