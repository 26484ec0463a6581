# Design: the book's dropout (fastdl/reference/layers.py) with the draw of
# the mask fused with its use: one pass draws, keeps the mask and writes
# `x * mask`, where the reference makes a float64 array of draws, compares
# it and multiplies by a bool array (a mixed-dtype loop).
#
# The stream-compatible kernel draws from the bit generator behind NumPy's
# global RandomState, under that generator's lock, one double per element
# in C order: exactly what `np.random.rand` does, so masks, outputs and the
# stream's state afterwards are the reference's. For the MT19937 generator
# that RandomState always holds, it runs the Mersenne Twister (Matsumoto and
# Nishimura's published recurrence and tempering, written here) inline on
# the generator's state instead of calling `next_double` through a pointer
# per element, which is most of the time the reference spends. It relies on
# NumPy's layout of that state (624 32-bit words, then the position);
# `mt19937_layout_matches` checks the layout and the draws against NumPy
# once, and fastdl/layers.py falls back to `next_double` if it fails.
#
# The fast kernel takes one 64-bit draw from the bit generator of a
# `numpy.random.Generator` per call and expands it with SplitMix64 (Steele,
# Lea and Flood's counter-based mixer, written here): 64 bits per two
# elements, compared as two 32-bit integers with the threshold
# `floor(ratio * 2**32)` (P(keep) = 1 - ratio to within 2**-32). Mixing a
# counter costs a few multiplies where a call per draw through the bit
# generator's function pointer costs several times that; the words are
# made in batches so that the compare and multiply loops vectorise. It is
# reproducible for a given seed but not NumPy's stream.
#
# The `def` wrappers take any object and return None, having drawn and
# written nothing, where the kernel does not apply (fastdl/_kernels/README.md).
from cython cimport floating
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from cpython.pycapsule cimport PyCapsule_GetPointer

import numpy as np

cimport numpy as cnp
from numpy.random cimport bitgen_t

from fastdl._kernels.common cimport bool_like, empty_like, float_type

cnp.import_array()

cdef enum:
    DRAWS = 128  # 64-bit draws per batch of the fast kernel (two elements each)
    MT_N = 624   # Mersenne Twister state words
    MT_M = 397


ctypedef struct mt19937_state:
    uint32_t key[MT_N]
    int pos


cdef inline uint32_t twist(uint32_t upper, uint32_t lower, uint32_t far) noexcept nogil:
    cdef uint32_t y = (upper & 0x80000000u) | (lower & 0x7fffffffu)
    return far ^ (y >> 1) ^ ((y & 1u) * 0x9908b0dfu)


cdef void mt19937_regenerate(uint32_t* key) noexcept nogil:
    # All 624 words in place; three loops instead of indices modulo 624.
    cdef int i
    for i in range(MT_N - MT_M):
        key[i] = twist(key[i], key[i + 1], key[i + MT_M])
    for i in range(MT_N - MT_M, MT_N - 1):
        key[i] = twist(key[i], key[i + 1], key[i + MT_M - MT_N])
    key[MT_N - 1] = twist(key[MT_N - 1], key[0], key[MT_M - 1])


cdef void mt19937_words(uint32_t* key, int* pos,          # IN/OUT generator state
                        uint32_t* words,                   # OUT (m,) tempered outputs
                        Py_ssize_t m) noexcept nogil:
    # The next m outputs of the generator, tempered a run at a time so that
    # the loop vectorises.
    cdef Py_ssize_t done = 0, k, j
    cdef uint32_t y
    cdef const uint32_t* src
    while done < m:
        if pos[0] == MT_N:
            mt19937_regenerate(key)
            pos[0] = 0
        k = min(<Py_ssize_t>(MT_N - pos[0]), m - done)
        src = key + pos[0]
        for j in range(k):
            y = src[j]
            y ^= y >> 11
            y ^= (y << 7) & 0x9d2c5680u
            y ^= (y << 15) & 0xefc60000u
            words[done + j] = y ^ (y >> 18)
        pos[0] += <int>k
        done += k


cdef void mt19937_uniform(uint32_t* key, int* pos,        # IN/OUT generator state
                          double* u,                       # OUT (m,) doubles in [0, 1)
                          Py_ssize_t m) noexcept nogil:
    # m <= DRAWS doubles as random_sample makes them: 27 bits of one output,
    # 26 of the next.
    cdef uint32_t words[2 * DRAWS]
    cdef Py_ssize_t i
    mt19937_words(key, pos, words, 2 * m)
    for i in range(m):
        u[i] = (<int32_t>(words[2 * i] >> 5) * 67108864.0 + <int32_t>(words[2 * i + 1] >> 6)) / 9007199254740992.0


cdef void forward_mt19937_pass(const floating* x,          # IN  (n,)
                               floating* out,              # OUT (n,) x * mask
                               cnp.npy_bool* mask,         # OUT (n,)
                               Py_ssize_t n, double ratio,
                               mt19937_state* st) noexcept nogil:
    cdef double u[DRAWS]
    cdef Py_ssize_t start = 0, m, i
    cdef int pos = st.pos                                 # a local: the bool stores may alias st
    while start < n:
        m = min(<Py_ssize_t>DRAWS, n - start)
        mt19937_uniform(st.key, &pos, u, m)               # np.random.rand(*x.shape) ...
        for i in range(m):
            mask[start + i] = u[i] > ratio                # ... > self.dropout_ratio
        for i in range(m):
            out[start + i] = x[start + i] * <floating>mask[start + i]  # x * self.mask
        start += m
    st.pos = pos


cdef void forward_stream_pass(const floating* x,           # IN  (n,)
                              floating* out,               # OUT (n,) x * mask
                              cnp.npy_bool* mask,          # OUT (n,)
                              Py_ssize_t n, double ratio,
                              bitgen_t* bitgen) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint keep
    for i in range(n):
        keep = bitgen.next_double(bitgen.state) > ratio  # np.random.rand(*x.shape) > self.dropout_ratio
        mask[i] = keep
        out[i] = x[i] * <floating>keep                    # x * self.mask


cdef inline uint64_t splitmix64(uint64_t z) noexcept nogil:
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu
    return z ^ (z >> 31)


cdef void forward_fast_pass(const floating* x,             # IN  (n,)
                            floating* out,                 # OUT (n,) x * mask
                            cnp.npy_bool* mask,            # OUT (n,)
                            Py_ssize_t n, int64_t threshold,
                            uint64_t seed) noexcept nogil:
    cdef uint32_t halves[2 * DRAWS]
    cdef uint64_t word
    # u32 > threshold as a signed compare (which SSE2 has) of both sides
    # with the top bit flipped; a negative threshold keeps everything.
    cdef int32_t biased = <int32_t>(<uint32_t>threshold ^ 0x80000000u)
    cdef bint keep_all = threshold < 0
    cdef uint64_t counter = seed
    cdef Py_ssize_t start = 0, m, k, i
    while start < n:
        m = min(2 * DRAWS, n - start)
        for k in range((m + 1) // 2):
            counter += 0x9e3779b97f4a7c15u
            word = splitmix64(counter)
            halves[2 * k] = <uint32_t>word                # low half first: the words' order on x86-64
            halves[2 * k + 1] = <uint32_t>(word >> 32)
        for i in range(m):
            mask[start + i] = keep_all | (<int32_t>(halves[i] ^ 0x80000000u) > biased)  # u32 / 2**32 > dropout_ratio
        for i in range(m):
            out[start + i] = x[start + i] * <floating>mask[start + i]  # x * self.mask
        start += m


cdef void apply_mask(const floating* dout,                 # IN  (n,)
                     const cnp.npy_bool* mask,             # IN  (n,)
                     floating* dx,                         # OUT (n,)
                     Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = dout[i] * <floating>mask[i]               # dout * self.mask


cdef bitgen_t* bitgen_of(object bit_generator) except NULL:
    return <bitgen_t*>PyCapsule_GetPointer(bit_generator.capsule, "BitGenerator")


def forward_stream(object x, double ratio, object bit_generator, bint inline_mt19937=False):
    """``mask = draws > ratio`` with ``bit_generator``'s doubles; returns ``(x*mask, mask)``.

    ``inline_mt19937`` runs the Mersenne Twister here on the state of an
    ``MT19937`` bit generator (only once ``mt19937_layout_matches()``).
    ``None`` (nothing drawn) where the kernel does not apply: x not an
    aligned, native, C-contiguous float32/float64 ndarray, or, inline, a
    position outside 0..624 (``np.random.set_state`` accepts any int).
    """
    cdef int t = float_type(x)
    if t < 0:
        return None
    if inline_mt19937 and type(bit_generator) is not np.random.MT19937:
        raise ValueError("dropout kernel: inline_mt19937 needs an MT19937 bit generator")
    cdef cnp.ndarray out = empty_like(x, t)
    cdef cnp.ndarray mask = empty_like(x, cnp.NPY_BOOL)
    with bit_generator.lock:
        if inline_mt19937 and not 0 <= (<mt19937_state*>bitgen_of(bit_generator).state).pos <= MT_N:
            return None
        if t == cnp.NPY_FLOAT64:
            stream_arrays(<double*>cnp.PyArray_DATA(x), out, mask, ratio, bitgen_of(bit_generator),
                          inline_mt19937)
        else:
            stream_arrays(<float*>cnp.PyArray_DATA(x), out, mask, ratio, bitgen_of(bit_generator),
                          inline_mt19937)
    return out, mask


cdef void stream_arrays(floating* x_data, cnp.ndarray out, cnp.ndarray mask, double ratio,
                        bitgen_t* bitgen, bint inline_mt19937) noexcept:
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    cdef floating* out_data = <floating*>cnp.PyArray_DATA(out)
    cdef cnp.npy_bool* mask_data = <cnp.npy_bool*>cnp.PyArray_DATA(mask)
    with nogil:
        if inline_mt19937:
            forward_mt19937_pass(x_data, out_data, mask_data, n, ratio, <mt19937_state*>bitgen.state)
        else:
            forward_stream_pass(x_data, out_data, mask_data, n, ratio, bitgen)


def mt19937_layout_matches():
    """True if the inline Mersenne Twister reads NumPy's MT19937 state and draws its doubles.

    Checks the state words and position against ``MT19937.state`` and
    2,001 doubles (six regenerations, each crossed by a double whose two
    words straddle it) against ``RandomState.random_sample`` on an
    identical generator.
    """
    reference = np.random.MT19937(20240607)
    ours = np.random.MT19937(20240607)
    reference.random_raw(1)                                # one 32-bit word: an odd position
    ours.random_raw(1)
    cdef mt19937_state* st = <mt19937_state*>bitgen_of(ours).state
    state = ours.state["state"]
    if st.pos != state["pos"] or any(st.key[i] != state["key"][i] for i in range(MT_N)):
        return False
    expected = np.random.RandomState(reference).random_sample(2001)
    cdef cnp.ndarray drawn = np.empty(2001)
    cdef int pos = st.pos
    cdef Py_ssize_t start
    for start in range(0, 2001, 7):
        mt19937_uniform(st.key, &pos, <double*>cnp.PyArray_DATA(drawn) + start, min(7, 2001 - start))
    st.pos = pos
    after, after_reference = ours.state["state"], reference.state["state"]
    return (np.array_equal(drawn, expected) and after["pos"] == after_reference["pos"]
            and np.array_equal(after["key"], after_reference["key"]))


def forward_fast(object x, double ratio, object bit_generator):
    """Like ``forward_stream`` with 32 bits per element from SplitMix64 seeded by one draw."""
    cdef int t = float_type(x)
    if t < 0:
        return None
    cdef int64_t threshold
    if ratio < 0:
        threshold = -1                                    # keep every element
    elif not ratio < 1:                                   # also a NaN ratio: keep none, as the reference
        threshold = 0xFFFFFFFF
    else:
        threshold = <int64_t>(ratio * 4294967296.0)       # exact: a power-of-two scaling, then floor
    cdef cnp.ndarray out = empty_like(x, t)
    cdef cnp.ndarray mask = empty_like(x, cnp.NPY_BOOL)
    cdef bitgen_t* bitgen = bitgen_of(bit_generator)
    cdef uint64_t seed
    with bit_generator.lock:
        seed = bitgen.next_uint64(bitgen.state)
    if t == cnp.NPY_FLOAT64:
        fast_arrays(<double*>cnp.PyArray_DATA(x), out, mask, threshold, seed)
    else:
        fast_arrays(<float*>cnp.PyArray_DATA(x), out, mask, threshold, seed)
    return out, mask


cdef void fast_arrays(floating* x_data, cnp.ndarray out, cnp.ndarray mask, int64_t threshold,
                      uint64_t seed) noexcept:
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    cdef floating* out_data = <floating*>cnp.PyArray_DATA(out)
    cdef cnp.npy_bool* mask_data = <cnp.npy_bool*>cnp.PyArray_DATA(mask)
    with nogil:
        forward_fast_pass(x_data, out_data, mask_data, n, threshold, seed)


def backward(object dout_, object mask_):
    """``dout * mask`` for a bool ``mask`` of the same shape, a new array.

    ``None`` where the kernel does not apply: dout not an aligned, native,
    C-contiguous float32/float64 ndarray, or mask not a C-contiguous bool
    ndarray of its shape.
    """
    cdef int t = float_type(dout_)
    if t < 0 or not bool_like(mask_, dout_):
        return None
    cdef cnp.ndarray dout = dout_, mask = mask_
    cdef cnp.ndarray dx = empty_like(dout, t)
    if t == cnp.NPY_FLOAT64:
        mask_arrays(<double*>cnp.PyArray_DATA(dout), mask, dx)
    else:
        mask_arrays(<float*>cnp.PyArray_DATA(dout), mask, dx)
    return dx


cdef void mask_arrays(floating* dout_data, cnp.ndarray mask, cnp.ndarray dx) noexcept:
    cdef Py_ssize_t n = cnp.PyArray_SIZE(dx)
    cdef cnp.npy_bool* mask_data = <cnp.npy_bool*>cnp.PyArray_DATA(mask)
    cdef floating* dx_data = <floating*>cnp.PyArray_DATA(dx)
    with nogil:
        apply_mask(dout_data, mask_data, dx_data, n)
