# The baseline build of batchnorm.pxi (see there).
include "batchnorm.pxi"
