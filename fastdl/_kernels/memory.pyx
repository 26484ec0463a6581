# Design: a NumPy data-allocation handler (NEP 49) that keeps the memory of
# large arrays that died and hands it to the next array of about the same
# size, so that fastdl's layers do not take fresh pages (and the kernel's
# page clearing) at every call.
#
# - fastdl installs the handler only while its layer methods run
#   (`install`/`restore`, a context variable in NumPy: other threads and
#   other code keep their own handler). Every array remembers the handler
#   that allocated its data, so an array that outlives the call still
#   comes back here when it is freed, wherever and by whichever thread.
# - Every block starts with a header (HEADER bytes, which keeps malloc's
#   16-byte alignment) holding its capacity: realloc is not told the old
#   size, and the size NumPy passes to free is not needed.
# - Requests below `min_bytes` go straight to the system allocator. Larger
#   ones are rounded up to whole pages; a cached block is reused when its
#   capacity is at least the request and at most a quarter more (the
#   smallest such, the most recently freed among equals). A block
#   enters the cache only when its array is freed (never while an array
#   owns it), the newest replacing the oldest when the cache would exceed
#   `cap_bytes` or SLOTS blocks. calloc clears a reused block itself.
# - Bounded: at most `cap_bytes` cached; a block cached for more than
#   `idle_seconds` goes back to the system at the next install or free;
#   `release()` gives back everything now; `configure(cap_bytes=0)` turns
#   caching off.
# - One PyThread lock guards the cache; it is taken without the GIL (NumPy
#   frees with or without it) and nothing that takes the GIL runs under it.
#   A forked child starts with a new lock and an empty cache (the blocks
#   cached at the fork are left alone: another thread may have been changing
#   the cache).
from libc cimport stdlib
from libc.stdint cimport uint8_t
from libc.string cimport memcpy, memset, strncpy
from libc.time cimport time, time_t

from cpython.pycapsule cimport PyCapsule_New
from cpython.pythread cimport (
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_release_lock,
    PyThread_type_lock,
    WAIT_LOCK,
)

cimport numpy as cnp

import os

cnp.import_array()


cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void* ctx
        void* (*malloc)(void* ctx, size_t size) noexcept nogil
        void* (*calloc)(void* ctx, size_t nelem, size_t elsize) noexcept nogil
        void* (*realloc)(void* ctx, void* ptr, size_t new_size) noexcept nogil
        void (*free)(void* ctx, void* ptr, size_t size) noexcept nogil

    ctypedef struct PyDataMem_Handler:
        char name[127]
        uint8_t version
        PyDataMemAllocator allocator

    object PyDataMem_SetHandler(object handler)


cdef enum:
    HEADER = 16           # bytes before each block's data: its capacity; keeps 16-byte alignment
    PAGE = 4096           # pooled capacities are whole pages
    SLOTS = 64            # most blocks cached at once


cdef struct Slot:
    char* block           # the header of a cached block
    size_t capacity       # bytes after the header
    time_t cached_at
    size_t freed          # when, in frees: among equal fits the latest wins (its lines may still be cached)


cdef PyThread_type_lock lock = NULL
cdef Slot slots[SLOTS]
cdef Py_ssize_t n_slots = 0
cdef size_t cached_bytes = 0
cdef size_t cap_bytes = 512 * 1024 * 1024
cdef size_t min_bytes = 256 * 1024
cdef time_t idle_seconds = 10
cdef size_t reuses = 0        # blocks handed out again (for tests and benchmarks)
cdef size_t frees = 0         # blocks cached so far


cdef inline size_t capacity_of(const char* block) noexcept nogil:
    return (<const size_t*>block)[0]


cdef inline char* new_block(size_t capacity, bint zeroed) noexcept nogil:
    cdef char* block = <char*>(stdlib.calloc(1, capacity + HEADER) if zeroed else stdlib.malloc(capacity + HEADER))
    if block != NULL:
        (<size_t*>block)[0] = capacity
    return block


cdef void drop_slot(Py_ssize_t i) noexcept nogil:
    """Free cached block i and remove it (the lock held)."""
    global n_slots, cached_bytes
    stdlib.free(slots[i].block)
    cached_bytes -= slots[i].capacity
    n_slots -= 1
    slots[i] = slots[n_slots]


cdef void drop_idle(time_t now) noexcept nogil:
    """Free the blocks cached for more than idle_seconds (the lock held)."""
    cdef Py_ssize_t i = n_slots - 1
    while i >= 0:
        if now - slots[i].cached_at > idle_seconds:
            drop_slot(i)
        i -= 1


cdef void drop_oldest() noexcept nogil:
    # By `freed`, which orders every free (`cached_at` is in whole seconds: many ties).
    cdef Py_ssize_t i, oldest = 0
    for i in range(1, n_slots):
        if slots[i].freed < slots[oldest].freed:
            oldest = i
    drop_slot(oldest)


cdef char* take_cached(size_t capacity) noexcept nogil:
    """A cached block of at least ``capacity`` bytes and at most a quarter more, removed from the cache; or NULL."""
    global n_slots, cached_bytes, reuses
    cdef Py_ssize_t i, best = -1
    cdef char* block
    PyThread_acquire_lock(lock, WAIT_LOCK)
    for i in range(n_slots):
        if capacity <= slots[i].capacity <= capacity + capacity // 4:
            if (best < 0 or slots[i].capacity < slots[best].capacity
                    or (slots[i].capacity == slots[best].capacity and slots[i].freed > slots[best].freed)):
                best = i
    block = NULL
    if best >= 0:
        block = slots[best].block
        cached_bytes -= slots[best].capacity
        n_slots -= 1
        slots[best] = slots[n_slots]
        reuses += 1
    PyThread_release_lock(lock)
    return block


cdef void* allocate(size_t size, bint zeroed) noexcept nogil:
    cdef size_t capacity
    cdef char* block
    if size < min_bytes:
        block = new_block(size, zeroed)
    else:
        if size > <size_t>-1 - PAGE - HEADER:
            return NULL  # the rounding or the header would overflow
        capacity = (size + PAGE - 1) // PAGE * PAGE
        block = take_cached(capacity)
        if block != NULL:
            if zeroed:
                memset(block + HEADER, 0, size)  # a recycled block holds an old array's values
        else:
            block = new_block(capacity, zeroed)
            if block == NULL:
                release_all()
                block = new_block(capacity, zeroed)
    return NULL if block == NULL else block + HEADER


cdef void* handler_malloc(void* ctx, size_t size) noexcept nogil:
    return allocate(size, False)


cdef void* handler_calloc(void* ctx, size_t nelem, size_t elsize) noexcept nogil:
    if elsize != 0 and nelem > (<size_t>-1 - HEADER - PAGE) // elsize:
        return NULL
    return allocate(nelem * elsize, True)


cdef void handler_free(void* ctx, void* ptr, size_t size) noexcept nogil:
    # `size` is NumPy's idea of the size; the header knows the block's.
    global n_slots, cached_bytes, frees
    cdef char* block
    cdef size_t capacity
    cdef time_t now
    if ptr == NULL:
        return
    block = <char*>ptr - HEADER
    capacity = capacity_of(block)
    if capacity < min_bytes or capacity > cap_bytes:
        stdlib.free(block)
        return
    PyThread_acquire_lock(lock, WAIT_LOCK)
    now = time(NULL)
    drop_idle(now)
    while n_slots > 0 and (n_slots == SLOTS or cached_bytes + capacity > cap_bytes):
        drop_oldest()
    slots[n_slots].block = block
    slots[n_slots].capacity = capacity
    slots[n_slots].cached_at = now
    frees += 1
    slots[n_slots].freed = frees
    n_slots += 1
    cached_bytes += capacity
    PyThread_release_lock(lock)


cdef void* handler_realloc(void* ctx, void* ptr, size_t new_size) noexcept nogil:
    cdef char* block
    cdef size_t capacity
    cdef void* moved
    if ptr == NULL:
        return allocate(new_size, False)
    block = <char*>ptr - HEADER
    capacity = capacity_of(block)
    if capacity < min_bytes and new_size < min_bytes:
        block = <char*>stdlib.realloc(block, new_size + HEADER)
        if block == NULL:
            return NULL
        (<size_t*>block)[0] = new_size
        return block + HEADER
    if new_size <= capacity and capacity >= min_bytes and new_size >= capacity // 2:
        return ptr  # it fits, without holding on to much more than it uses
    moved = allocate(new_size, False)
    if moved == NULL:
        return NULL
    memcpy(moved, ptr, min(capacity, new_size))
    handler_free(ctx, ptr, capacity)
    return moved


cdef void release_all() noexcept nogil:
    PyThread_acquire_lock(lock, WAIT_LOCK)
    while n_slots > 0:
        drop_slot(n_slots - 1)
    PyThread_release_lock(lock)


cdef PyDataMem_Handler handler
strncpy(handler.name, b"fastdl_pool", sizeof(handler.name) - 1)
handler.version = 1
handler.allocator.ctx = NULL
handler.allocator.malloc = handler_malloc
handler.allocator.calloc = handler_calloc
handler.allocator.realloc = handler_realloc
handler.allocator.free = handler_free

lock = PyThread_allocate_lock()
if lock == NULL:
    raise MemoryError("fastdl._kernels.memory: could not allocate a lock")

# NumPy requires this capsule name; the handler is static, so the capsule needs no destructor.
cdef object capsule = PyCapsule_New(&handler, "mem_handler", NULL)


def install():
    """Make the pool NumPy's allocator in this context; return the previous handler for ``restore``.

    Also gives back the blocks cached for more than ``idle_seconds``.
    """
    if n_slots:
        # With the GIL: the lock is never held by a thread waiting for the GIL, and releasing
        # the GIL here would make each pooled call wait for it back behind other threads.
        PyThread_acquire_lock(lock, WAIT_LOCK)
        drop_idle(time(NULL))
        PyThread_release_lock(lock)
    return PyDataMem_SetHandler(capsule)


def restore(previous):
    """Make ``previous`` (what ``install`` returned) NumPy's allocator again."""
    PyDataMem_SetHandler(previous)


def release():
    """Give every cached block back to the system now."""
    with nogil:
        release_all()


def configure(cap_bytes=None, min_bytes=None, idle_seconds=None):
    """Set the pool's knobs (None keeps one); return them as a dict.

    cap_bytes: most bytes cached (0: cache nothing); min_bytes: smaller
    arrays use the system allocator directly; idle_seconds: a block cached
    longer is given back at the next install or free.
    """
    values = {"cap_bytes": cap_bytes, "min_bytes": min_bytes, "idle_seconds": idle_seconds}
    for name, value in values.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ValueError(f"{name} must be a non-negative int, not {value!r}")
    set_knobs(-1 if cap_bytes is None else cap_bytes, -1 if min_bytes is None else min_bytes,
              -1 if idle_seconds is None else idle_seconds)
    return stats()


cdef void set_knobs(long long cap, long long smallest, long long idle) noexcept:
    global cap_bytes, min_bytes, idle_seconds
    with nogil:
        PyThread_acquire_lock(lock, WAIT_LOCK)
        if cap >= 0:
            cap_bytes = <size_t>cap
        if smallest >= 0:
            min_bytes = <size_t>max(smallest, 1)
        if idle >= 0:
            idle_seconds = <time_t>idle
        while n_slots > 0 and cached_bytes > cap_bytes:
            drop_oldest()
        PyThread_release_lock(lock)


def stats():
    """The knobs and the cache's state: ``cap_bytes``, ``min_bytes``, ``idle_seconds``,
    ``cached_bytes``, ``cached_blocks`` and ``reuses`` (blocks handed out again so far)."""
    return {"cap_bytes": cap_bytes, "min_bytes": min_bytes, "idle_seconds": idle_seconds,
            "cached_bytes": cached_bytes, "cached_blocks": n_slots, "reuses": reuses}


def _after_fork_in_child():
    # Another thread of the parent may have held the lock, halfway through
    # changing the cache, when fork() copied the memory: the child forgets
    # the cached blocks (its copy-on-write copies, never touched again) and
    # starts with a new lock. Holding the lock across fork() instead
    # deadlocks: a thread waiting for it while holding the GIL blocks the
    # forking thread, which needs the GIL back before it forks.
    global lock, n_slots, cached_bytes
    lock = PyThread_allocate_lock()
    n_slots = 0
    cached_bytes = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
