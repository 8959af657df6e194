"""NumPy's sort kernels on AMD Zen 4 (``cxlens/_cpu.py``): ``import cxlens`` turns NumPy's AVX-512 kernels
off there, before NumPy loads, and leaves every other CPU and an explicit user setting alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cxlens._cpu import avx512_groups, is_zen4

ROOT = Path(__file__).resolve().parents[1]

ZEN4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nflags\t\t: fpu sse4_2 avx2 avx512f avx512dq\n\nprocessor\t: 1\n"
ZEN3 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nflags\t\t: fpu sse4_2 avx2\n"
ZEN5 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nflags\t\t: fpu avx2 avx512f\n"
INTEL = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nflags\t\t: fpu avx2 avx512f\n"


def test_only_amd_family_19h_with_avx512_is_zen4():
    assert is_zen4(ZEN4)
    assert not is_zen4(ZEN3)  # same family, no AVX-512: NumPy never runs those kernels there
    assert not is_zen4(ZEN5)  # Zen 5 stores compressed vectors at full speed
    assert not is_zen4(INTEL)
    assert not is_zen4("")
    # only the first processor's block is read (a flags line of a later block does not count)
    assert not is_zen4(ZEN3 + "\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nflags\t\t: avx512f\n")


@pytest.mark.parametrize(
    ("version", "first"), [("2.4.6", "X86_V4"), ("2.4.0rc1", "X86_V4"), ("3.0.0", "X86_V4"), ("2.3.5", "AVX512F"),
                           ("1.26.4", "AVX512F")],
)  # fmt: skip
def test_the_groups_follow_numpys_names(version, first):
    assert avx512_groups(version).split()[0] == first


def _fresh(env_extra: dict[str, str]) -> dict:
    """``import cxlens`` then NumPy in a fresh interpreter; ImportWarning is an error there, so a group
    name this NumPy does not know fails the import."""
    env = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "CXLENS_NUMPY_AVX512")}
    env |= env_extra
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    code = (
        "import os, json, cxlens, numpy, numpy._core._multiarray_umath as m\n"
        "found = [k for k, v in m.__cpu_features__.items() if v]\n"
        "print(json.dumps({'env': os.environ.get('NPY_DISABLE_CPU_FEATURES'), 'dispatch': m.__cpu_dispatch__,"
        " 'found': found}))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error::ImportWarning", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def _zen4_here() -> bool:
    try:
        return sys.platform.startswith("linux") and is_zen4(Path("/proc/cpuinfo").read_text()[:16384])
    except OSError:
        return False


def test_import_cxlens_turns_numpys_avx512_kernels_off_on_zen4_only():
    got = _fresh({})
    if _zen4_here():
        assert got["env"] is not None
        disabled = set(got["env"].split())
        # NumPy knows every name (no ImportWarning) and no dispatched AVX-512 group is left
        assert disabled <= set(got["dispatch"]), (disabled, got["dispatch"])
        assert not disabled & set(got["found"])
    else:
        assert got["env"] is None


def test_the_users_setting_and_the_opt_out_win():
    assert _fresh({"NPY_DISABLE_CPU_FEATURES": ""})["env"] == ""
    assert _fresh({"CXLENS_NUMPY_AVX512": "1"})["env"] is None
