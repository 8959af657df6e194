"""``cxlens bench themes``: the label check by hand, and floors of the default pipeline on the real data."""

from __future__ import annotations

import numpy as np
import pytest
from benchmarks.sentiment import one_thread
from benchmarks.themes import (
    airline_reasons,
    bench_themes,
    clothing_classes,
    evaluate_themes,
    label_check,
    parse_seeds,
)
from sklearn.metrics import adjusted_mutual_info_score

from cxlens.errors import ParameterError
from cxlens.voice.themes import ThemeExtractor

# measured by `cxlens bench themes` (docs/voice-themes.md); floors sit just below
AIRLINE = {"ami": 0.27, "label_check": 0.75, "unassigned": 0.10}  # measured 0.276, 0.833, 0.100
CLOTHING = {"ami": 0.19, "label_check": 0.25, "unassigned": 0.10}  # measured 0.207, 0.300, 0.000
#: issue 15: the airline label check holds at every seed, not only at seed 0 (measured at seeds 1, 2:
#: 0.750, 0.750; AMI 0.268, 0.263; docs/voice-themes.md)
AIRLINE_SEEDS = {1: {"ami": 0.25, "label_check": 0.70}, 2: {"ami": 0.25, "label_check": 0.70}}
CPU_S_PER_10K = 30.0  # the goal; measured 2.7 (airline) and 6 (clothing) on one core


def test_label_check_needs_a_word_only_the_majority_label_has():
    gold = ["Late Flight"] * 4 + ["Lost Luggage"] * 3 + ["Damaged Luggage"] * 2 + ["Cancelled Flight"]
    pred = ["a"] * 4 + ["b"] * 3 + ["c"] * 2 + [None]
    names = {"a": "Flight · hours", "b": "Luggage · bags", "c": "Damaged bags"}
    r = label_check(names, pred, gold, coverage=0.8)
    # sizes 4, 3 cover 70 % < 80 %: the third theme is checked too; the untagged text is no theme
    assert [t["theme"] for t in r["themes"]] == ["a", "b", "c"] and r["checked"] == 3
    # "flight" is in three labels, "luggage" in two: neither proves anything; "damaged" does
    assert [t["passed"] for t in r["themes"]] == [False, False, True]
    assert r["passed"] == pytest.approx(1 / 3)
    assert r["themes"][2]["words"] == ["damag"] and r["themes"][0]["purity"] == 1.0
    # stems meet: "Cancellations" names "Cancelled Flight"; "longlines" is read as "long lines"
    r = label_check({"x": "Cancellations", "y": "Long lines"}, ["x", "y"], ["Cancelled Flight", "longlines"], 1.0)
    assert r["passed"] == 1.0


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "floors"), [("airline", AIRLINE), ("clothing", CLOTHING)])
def test_default_pipeline_meets_its_floors_on_labelled_data(real_data, name, floors):
    texts, gold = (airline_reasons if name == "airline" else clothing_classes)(real_data)
    r = evaluate_themes(texts, gold)
    pred = r["extractor"].predict(texts)
    grouped = np.array(["<none>" if p is None else p for p in pred], dtype=object)
    assert r["ami"] == pytest.approx(adjusted_mutual_info_score(gold, grouped))  # independent recomputation
    assert r["ami"] >= floors["ami"] and r["label_check"] >= floors["label_check"]
    assert r["unassigned"] <= floors["unassigned"]
    assert r["cpu_s_per_10k"] < CPU_S_PER_10K
    assert r["k"] in r["extractor"].auto_range  # k was chosen automatically


@pytest.mark.realdata
def test_bench_reports_both_sets(real_data, monkeypatch):
    res = bench_themes(real_data, sets=("airline",))
    assert res["airline.n"] == 7988 and {"airline.ami", "airline.label_check", "airline.cpu_s_per_10k"} <= set(res)
    assert len(res["airline.themes"].split("; ")) == res["airline.label_checked"]


@pytest.mark.realdata
def test_bench_reports_each_seed(real_data):
    res = bench_themes(real_data, sets=("airline",), seeds="0,2")
    assert not any(k.startswith("airline.n") for k in res)  # per seed, never one figure for all
    for seed in (0, 2):
        texts, gold = airline_reasons(real_data)
        with one_thread():  # as the bench fits: the k-means result can differ with the BLAS thread count
            tx = ThemeExtractor(random_state=seed).fit(texts)
            pred = np.array(["<none>" if p is None else p for p in tx.predict(texts)], dtype=object)
        # each seed's AMI recomputed from its own fit (independent of the bench's code path)
        assert res[f"airline.seed{seed}.ami"] == pytest.approx(adjusted_mutual_info_score(gold, pred), abs=1e-4)
        assert res[f"airline.seed{seed}.n"] == 7988
        assert res[f"airline.seed{seed}.k"] == tx.n_themes_


def test_seeds_are_distinct_whole_numbers():
    assert parse_seeds("0, 1,2") == (0, 1, 2) and parse_seeds([3]) == (3,)
    for bad, says in (("0,x", "'x'"), ("1,-1", "'-1'"), ("", "''"), ("1.5", "'1.5'"), ("0,0", "seed 0 is given twice")):
        with pytest.raises(ParameterError) as e:
            parse_seeds(bad)
        assert e.value.param == "seeds" and says in str(e.value)


@pytest.mark.realdata
@pytest.mark.parametrize("seed", sorted(AIRLINE_SEEDS))
def test_airline_label_check_holds_at_other_seeds(real_data, seed):
    texts, gold = airline_reasons(real_data)
    r = evaluate_themes(texts, gold, lambda: ThemeExtractor(random_state=seed))
    assert r["extractor"].random_state == seed
    # the label check by hand from the rows it reports: passed themes over checked ones
    assert r["label_check"] == pytest.approx(np.mean([t["passed"] for t in r["themes"]]))
    assert r["label_check"] >= AIRLINE_SEEDS[seed]["label_check"] and r["ami"] >= AIRLINE_SEEDS[seed]["ami"]
    assert r["unassigned"] <= AIRLINE["unassigned"] and r["cpu_s_per_10k"] < CPU_S_PER_10K
