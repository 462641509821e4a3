"""Keep freed tensor buffers in the heap between model calls (glibc malloc thresholds).

glibc serves each allocation above its mmap threshold (at most 32 MiB with the default
dynamic threshold) with a fresh ``mmap`` and unmaps it when freed, and returns free heap
above its trim threshold to the system. A model call on 10^6 particles allocates
buffers of 100-500 MB (bond lists, their sort keys, the embedding), so every call
page-faults them in anew. On the 2-core development VM the neighbour search of a
10^6-particle frame took 6.3-7.0 s that way and 2.8-3.1 s with both thresholds at 1 GiB,
which :func:`keep_freed_buffers` sets once per process (with ``mallopt``) when the first
:class:`~md_orderml.analysis.OrderML` is made.

Over a whole call on 10^6 particles (``benchmarks/throughput_cpu.py --sizes 1000000``) that
was 6.0e4 particles/s against 5.2e4 without the tuning; thresholds of 256 MiB or 64 MiB
gave 5.7e4 and 4.9e4. The price is memory: up to 1 GiB of freed heap stays with the
process for reuse, and the heap fragments more: the peak resident memory of two such
calls was 5.9 GB against 3.4 GB without the tuning.
``MD_ORDERML_MALLOC=default`` leaves glibc's settings alone, as do malloc settings of the
user's own (``GLIBC_TUNABLES`` with ``glibc.malloc``, ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``) and C libraries other than glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from typing import Optional

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Both thresholds, in bytes.
KEEP_BYTES = 1 << 30

#: Environment variable: ``default`` switches the tuning off.
OPT_OUT_VARIABLE = "MD_ORDERML_MALLOC"

_state: Optional[bool] = None


def user_malloc_settings() -> bool:
    """Whether the environment already sets glibc malloc thresholds (then they are kept)."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return ("glibc.malloc." in tunables or "MALLOC_MMAP_THRESHOLD_" in os.environ
            or "MALLOC_TRIM_THRESHOLD_" in os.environ)


def keep_freed_buffers() -> bool:
    """Raise glibc's mmap and trim thresholds to :data:`KEEP_BYTES`, once per process.

    Returns:
        True when the thresholds are raised (now or by an earlier call), False when the
        tuning was skipped: not glibc, ``MD_ORDERML_MALLOC=default``, the user's own
        malloc settings, or ``mallopt`` refused.
    """
    global _state
    if _state is not None:
        return _state
    _state = False
    if os.environ.get(OPT_OUT_VARIABLE, "").lower() == "default" or user_malloc_settings():
        return _state
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return _state
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return _state
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _state = bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
    return _state
