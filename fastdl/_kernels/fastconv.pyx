# The baseline build of fastconv.pxi (see there).
include "fastconv.pxi"
