"""Sticky assignment: FNV-1a test vectors, GrowthBook's hash v2, the configured split."""

from __future__ import annotations

from collections import Counter

import pytest
from scipy import stats as st

from cxlens.errors import ParameterError
from cxlens.experiments import assign, fnv1a32
from cxlens.experiments.assign import bucket


def test_fnv1a32_published_test_vectors():
    # from the FNV reference (isthe.com/chongo/tech/comp/fnv): FNV-1a 32-bit
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C
    assert fnv1a32("foobar") == 0xBF9CF968


def test_bucket_is_growthbook_hash_v2():
    # GrowthBook's hash(seed, value, 2) = fnv32a(fnv32a(seed + value).toString()) % 10000 / 10000, by hand here
    def fnv(s: str) -> int:
        h = 2166136261
        for b in s.encode():
            h = ((h ^ b) * 16777619) % 2**32
        return h

    for exp, visitor in [("checkout-v2", "visitor-1"), ("hero", "ü-42"), ("x", "")]:
        assert bucket(exp, visitor) == fnv(str(fnv(exp + visitor))) % 10000 / 10000


@pytest.mark.parametrize(("weights", "shares"), [(None, [0.5, 0.5]), ([50, 25, 25], [0.5, 0.25, 0.25]),
                                                 ([1, 9], [0.1, 0.9])])  # fmt: skip
def test_assignment_follows_the_split(weights, shares):
    variants = ["control", "b", "c"][: len(shares)]
    got = Counter(assign("split-test", f"user-{i}", variants, weights) for i in range(20_000))
    observed = [got[v] for v in variants]
    assert st.chisquare(observed, [s * 20_000 for s in shares]).pvalue > 0.001


def test_assignment_is_deterministic_and_experiment_specific():
    a = [assign("e1", f"v{i}", ["control", "b"]) for i in range(2000)]
    assert a == [assign("e1", f"v{i}", ["control", "b"]) for i in range(2000)]
    b = [assign("e2", f"v{i}", ["control", "b"]) for i in range(2000)]
    same = sum(x == y for x, y in zip(a, b, strict=True)) / 2000
    assert 0.45 < same < 0.55  # independent across experiments


@pytest.mark.parametrize(
    ("variants", "weights", "field"),
    [(["only"], None, "variants"), (["a", "a"], None, "variants"), (["a", "b c"], None, "variants"),
     (["a", "b"], [1], "weights"), (["a", "b"], [-1, 2], "weights")],
)  # fmt: skip
def test_bad_variants_or_weights_name_the_field(variants, weights, field):
    with pytest.raises(ParameterError) as e:
        assign("e", "v", variants, weights)
    assert e.value.param == field
