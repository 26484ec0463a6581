# The baseline build of optim.pxi (see there).
include "optim.pxi"
