"""Build fastdl's Cython kernels (every ``fastdl/_kernels/*.pyx``; the ``*_avx2`` twins on x86-64 only).

Flags keep float results exact: no fast-math, no FMA contraction, no
``-march=native`` (wheels run on any x86-64). OpenMP is used when the
compiler supports it; ``FASTDL_NO_OPENMP=1`` builds without it and
``FASTDL_DEBUG=1`` turns bounds checks back on.
"""
import glob
import os
import platform
import shlex
import shutil
import sys
import tempfile

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("FASTDL_DEBUG") == "1"

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "initializedcheck": DEBUG,
    "cdivision": True,  # x/0 gives inf/nan as in NumPy, not ZeroDivisionError
}

if sys.platform == "win32":
    COMPILE_ARGS = ["/O2", "/fp:precise"]
    OPENMP_ARGS = (["/openmp"], [])
    AVX2_ARGS = ["/arch:AVX2"]
else:
    # An undeclared function (a NumPy C-API function the headers hide) is an
    # error here, not an undefined symbol at import.
    COMPILE_ARGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-Werror=implicit-function-declaration"]
    OPENMP_ARGS = (["-fopenmp"], ["-fopenmp"])
    AVX2_ARGS = ["-mavx2"]  # no -mfma: FMA would change the rounding
# ``*_avx2`` modules include the same ``.pxi`` as their baseline module and
# are built for AVX2, on x86-64 only; fastdl imports them only on CPUs
# that have AVX2.
X86_64 = platform.machine().lower() in ("x86_64", "amd64")


def compiler_builds(compiler, source, compile_args, link_args=()):
    """Whether ``compiler`` compiles and links the C program ``source`` with these flags.

    The link also takes the user's ``LDFLAGS`` and ``CFLAGS``, as the
    extensions' link does (distutils leaves them out of an executable's):
    ``CFLAGS=-fsanitize=address`` compiles the probe with AddressSanitizer,
    and without ``-fsanitize=address`` at link time the probe would fail
    for want of the runtime, not of what it checks.
    """
    user_flags = [flag for name in ("LDFLAGS", "CFLAGS") for flag in shlex.split(os.environ.get(name, ""))]
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "check.c")
        with open(src, "w") as f:
            f.write(source)
        objects = compiler.compile([src], output_dir=tmp, extra_postargs=list(compile_args))
        compiler.link_executable(objects, "check", output_dir=tmp, extra_postargs=list(link_args) + user_flags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compiler_supports_openmp(compiler):
    return compiler_builds(compiler, "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n",
                           *OPENMP_ARGS)


# BatchNormalization's centring sweep writes four rows of xc and a column
# accumulator while reading four rows of x and the means; GCC vectorises
# such a loop only behind run-time overlap checks, more of them than its
# default limit of 10 allows (it then leaves the loop scalar).
ALIAS_CHECKS_ARG = "--param=vect-max-version-for-alias-checks=100"


class BuildExt(build_ext):
    def build_extensions(self):
        use_openmp = (os.environ.get("FASTDL_NO_OPENMP") != "1"
                      and compiler_supports_openmp(self.compiler))
        print(f"fastdl: building with OpenMP: {use_openmp}")
        compile_args, link_args = OPENMP_ARGS if use_openmp else ([], [])
        if sys.platform != "win32" and compiler_builds(self.compiler, "int main(void) { return 0; }\n",
                                                       ["-Werror", ALIAS_CHECKS_ARG]):
            compile_args = compile_args + [ALIAS_CHECKS_ARG]
        for ext in self.extensions:
            avx2 = AVX2_ARGS if ext.name.endswith("_avx2") else []
            ext.extra_compile_args = COMPILE_ARGS + avx2 + compile_args
            ext.extra_link_args = link_args
        super().build_extensions()


# fastdl needs NumPy >= 2 at run time, so the kernels may use its whole C
# API as of 2.0 (the memory pool's PyDataMem_SetHandler is 1.22's): older
# NumPy headers hide newer functions unless this target says otherwise.
NUMPY_TARGET = [("NPY_TARGET_VERSION", "NPY_2_0_API_VERSION")]

extensions = [
    Extension(path[:-len(".pyx")].replace(os.sep, "."), [path],
              include_dirs=[numpy.get_include()], define_macros=NUMPY_TARGET)
    for path in sorted(glob.glob(os.path.join("fastdl", "_kernels", "*.pyx")))
    if X86_64 or not path.endswith("_avx2.pyx")
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
)
