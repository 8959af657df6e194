"""NumPy's sort on AMD Zen 4: prefer its AVX2 kernels to its AVX-512 ones, before NumPy is imported.

NumPy sorts (``np.sort``, ``argsort``, ``unique``…) with Intel's x86-simd-sort. Its AVX-512 kernels
store each partition with the memory-destination form of ``VPCOMPRESSD/Q``, which AMD's Zen 4 cores
(family 19h with AVX-512: EPYC 9004 "Genoa", Ryzen 7000; common cloud machines) run in microcode,
at about 140 cycles an instruction (AMD's *Software Optimization Guide for Zen 4*, 2.11.2: "avoid the
memory destination form of COMPRESS instructions"). NumPy picks those kernels there anyway, so it
sorts 2M ``int64`` in 110 ms where its AVX2 kernels take 27 ms (this machine; numpy 2.4.6). OpenJDK
turned its AVX-512 sort off on Zen 4 for the same reason (JDK-8317976); NumPy had not as of 2.4.

The journey analyses (funnels, paths, the journey map) sort tens of millions of packed keys, so on
such a CPU :func:`prefer_avx2_sort` sets ``NPY_DISABLE_CPU_FEATURES`` to NumPy's AVX-512 groups
before NumPy is first imported (this module calls it when imported, and ``import cxlens`` imports it
first): NumPy then dispatches to its
AVX2 kernels, which Zen 4 runs at full speed (its AVX-512 units are 256 bits wide, so little else is
lost). Nothing changes when NumPy is already imported, when the variable is already set (the user's
choice wins), on any other CPU, or with ``CXLENS_NUMPY_AVX512=1``. Results are the same either way:
only the speed of the kernels differs.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

__all__ = ["avx512_groups", "is_zen4", "prefer_avx2_sort"]

#: NumPy's dispatch groups that hold AVX-512 kernels: 2.4 named them by x86-64 level, earlier
#: versions by feature (an unknown name only gives an ImportWarning, so each list matches its versions)
_GROUPS_2_4 = "X86_V4 AVX512_ICL AVX512_SPR"
_GROUPS_OLD = "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"


def is_zen4(cpuinfo: str) -> bool:
    """Whether ``/proc/cpuinfo``'s first processor is an AMD family 19h (25) core with AVX-512 (Zen 4;
    Zen 3, the same family, has no AVX-512 and never runs those kernels).

    >>> is_zen4("vendor_id\\t: AuthenticAMD\\ncpu family\\t: 25\\nflags\\t\\t: fpu avx2 avx512f\\n")
    True
    >>> is_zen4("vendor_id\\t: GenuineIntel\\ncpu family\\t: 6\\nflags\\t\\t: fpu avx2 avx512f\\n")
    False
    """
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block is enough
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return (
        fields.get("vendor_id") == "AuthenticAMD"
        and fields.get("cpu family") == "25"
        and "avx512f" in fields.get("flags", "").split()
    )


def avx512_groups(numpy_version: str) -> str:
    """The value of ``NPY_DISABLE_CPU_FEATURES`` that turns off the AVX-512 kernels of that NumPy.

    >>> avx512_groups("2.4.6")
    'X86_V4 AVX512_ICL AVX512_SPR'
    >>> avx512_groups("2.3.5").split()[:2]
    ['AVX512F', 'AVX512CD']
    """
    parts = []
    for piece in numpy_version.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit()) or "0"
        parts.append(int(digits))
    return _GROUPS_2_4 if tuple(parts) >= (2, 4) else _GROUPS_OLD


def prefer_avx2_sort(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Set ``NPY_DISABLE_CPU_FEATURES`` on a Zen 4 CPU before NumPy loads; True when it did."""
    if "numpy" in sys.modules or "NPY_DISABLE_CPU_FEATURES" in environ or environ.get("CXLENS_NUMPY_AVX512") == "1":
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            head = f.read(16384)  # the first processor's block (its flags line is ≈ 1.5 KB)
        if not is_zen4(head):
            return False
        version = metadata.version("numpy")
    except (OSError, metadata.PackageNotFoundError):
        return False
    environ["NPY_DISABLE_CPU_FEATURES"] = avx512_groups(version)
    return True


prefer_avx2_sort()  # at import: `import cxlens` imports this module first
