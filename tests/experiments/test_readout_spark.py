"""The experiment read-out on Spark (a workspace over Spark through Ibis, ``cxlens.connect``) gives every
field DuckDB gives, on a seeded experiment of a few hundred people: anonymous visitors stitched to
customers (and some never stitched), repeated exposures, people exposed to two variants, conversions
inside and outside the 14-day window and before exposure (CUPED), revenue, a funnel goal, a guardrail,
frustration clicks, NPS, CSAT and CES answers, and one exposure whose properties are not JSON. The
counts are also checked against plain Python over the generated rows (an oracle that shares no code
with the read-out)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.scale import to_spark

pytestmark = [pytest.mark.spark, pytest.mark.slow]

T0 = pd.Timestamp("2026-05-01 08:00")
EXP = "spark-exp"
GOALS = ["purchase", "view>cart>purchase"]
WINDOW = 14


def _at(days: float) -> pd.Timestamp:
    return (T0 + pd.Timedelta(days=days)).round("s")


def generate(seed: int = 3, people: int = 300) -> tuple[list[dict], list[dict], list[tuple[str, str]], dict]:
    """Events, feedback, identity links and the ground truth per person (id, variant(s), first
    exposure, purchase times, NPS answers)."""
    rng = np.random.default_rng(seed)
    events: list[dict] = []
    feedback: list[dict] = []
    links: list[tuple[str, str]] = []
    truth: dict[str, dict] = {}

    def event(who: tuple[str | None, str | None], name: str, ts: pd.Timestamp, **kw) -> None:
        events.append({"event_id": f"e{len(events)}", "customer_id": who[0], "anonymous_id": who[1], "ts": ts,
                       "type": "track", "name": name, **kw})  # fmt: skip

    for i in range(people):
        kind = rng.choice(["customer", "stitched", "anonymous"], p=[0.7, 0.2, 0.1])
        person = f"a{i}" if kind == "anonymous" else f"p{i}"
        at_exposure = (None, f"a{i}") if kind != "customer" else (person, None)
        later = (None, person) if kind == "anonymous" else (person, None)
        if kind == "stitched":
            links.append((f"a{i}", person))
        variant = "control" if rng.random() < 0.5 else "b"
        t = float(rng.uniform(0, 5))
        seen = [(t, variant)]
        props = json.dumps({"experiment": EXP, "variant": variant})
        event(at_exposure, "$exposure", _at(t), properties=props)
        if rng.random() < 0.15:  # exposed again later, same variant: the first exposure counts
            t2 = t + float(rng.uniform(0.5, 3))
            event(later, "$exposure", _at(t2), properties=props)
            seen.append((t2, variant))
        if i % 60 == 7:  # exposed to the other variant too: excluded
            other = "b" if variant == "control" else "control"
            event(later, "$exposure", _at(t + 1), properties=json.dumps({"experiment": EXP, "variant": other}))
            seen.append((t + 1, other))
        purchases = []
        for _ in range(int(rng.integers(0, 3))):  # inside, outside the window and before exposure
            d = float(rng.uniform(-8, 20))
            event(later, "purchase", _at(t + d), revenue=round(float(rng.gamma(2, 25)), 2))
            purchases.append(d)
        if rng.random() < 0.3:  # the funnel, completed or not, partly outside the window
            d = float(rng.uniform(-6, 16))
            event(later, "view", _at(t + d))
            event(later, "cart", _at(t + d + 0.1))
            if rng.random() < 0.7:
                event(later, "purchase", _at(t + d + 0.2), revenue=20.0)
                purchases.append(d + 0.2)
        if rng.random() < 0.12:
            event(later, "refund", _at(t + float(rng.uniform(0, 14))))
        if rng.random() < 0.2:
            event(later, "$rageclick", _at(t + float(rng.uniform(-5, 15))))
        nps = []
        for metric, lo, hi, p in (("nps", 0, 10, 0.5), ("nps", 0, 10, 0.15), ("csat", 1, 5, 0.3), ("ces", 1, 7, 0.3)):
            if rng.random() < p:
                d = float(rng.uniform(-3, 17))
                score = int(rng.integers(lo, hi + 1))
                feedback.append({"feedback_id": f"f{len(feedback)}", "customer_id": person, "ts": _at(t + d),
                                 "metric": metric, "score": float(score)})  # fmt: skip
                if metric == "nps":
                    nps.append((d, score))
        truth[person] = {"seen": seen, "purchases": purchases, "nps": nps}
    # another experiment does not count (nor an exposure whose properties are not JSON: see `built`)
    event(("p0", None), "$exposure", _at(1), properties=json.dumps({"experiment": "other", "variant": "b"}))
    return events, feedback, links, truth


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    events, feedback, links, truth = generate()
    ws = cxlens.open(tmp_path_factory.mktemp("exp-spark") / "e.duckdb")
    ws.load("events", pd.DataFrame(events))
    ws.load("feedback", pd.DataFrame(feedback))
    with ws.transaction(changes=["collect_identities"]) as cur:
        cur.executemany("INSERT INTO collect_identities VALUES (?, ?, NULL, NULL)", [list(x) for x in links])
    with ws.transaction(changes=["events"]) as cur:  # written past the import's validation (an older workspace)
        cur.execute("INSERT INTO events (event_id, customer_id, ts, type, name, properties) "
                    "VALUES ('bad-json', 'zz', ?, 'track', '$exposure', 'not json {')", [_at(1).to_pydatetime()])  # fmt: skip
    ws.experiments.define(EXP, ["control", "b"], [50, 50], planned_per_variant=400)
    yield ws, truth
    ws.close()


@pytest.fixture(scope="module")
def readouts(spark, built):
    """The same read-out on DuckDB (the workspace) and on Spark (its tables copied as temp views,
    plus the identity links and the definition, which are not canonical tables)."""
    ws, _ = built
    kw = {"window_days": WINDOW, "guardrails": ["refund"]}
    duck = ws.experiments.results(EXP, GOALS, **kw)
    backend = to_spark(ws, spark, tables=["events", "feedback"])
    extra = ("collect_identities", "experiments")
    for name in extra:
        frame = ws.store.read(f"SELECT * FROM {name}")
        frame = frame.astype(object).where(frame.notna(), None)
        schema = "anonymous_id string, customer_id string, first_seen timestamp, last_seen timestamp"
        if name == "experiments":
            schema = ("name string, variants string, weights string, planned_per_variant bigint, "
                      "description string, created_at timestamp")  # fmt: skip
        spark.createDataFrame(frame, schema).createOrReplaceTempView(name)
    try:
        sws = cxlens.connect(backend)
        yield duck, sws.experiments.results(EXP, GOALS, **kw), sws.experiments.exposures(EXP)
    finally:
        for name in ("events", "feedback", *extra):
            spark.catalog.dropTempView(name)


def _same(got, want, path="") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), path
        for k in want:
            _same(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, (int, float)), path
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12) or (math.isnan(got) and math.isnan(want)), path
    else:
        assert got == want, path


def test_every_field_of_the_read_out_is_the_same_on_spark(readouts):
    duck, spark_res, _ = readouts
    _same(spark_res, duck)
    # the data exercise what the comparison is meant to cover
    ctl, b = duck["variants"]
    assert duck["excluded_multiple_variants"] >= 3 and ctl["converted"] > 0 and b["converted"] > 0
    assert ctl["nps_n"] > 0 and b["csat_n"] > 0 and b["ces_n"] > 0 and b["frustrated"] > 0
    assert b["revenue_cuped_variance_reduction"] is not None and b["cuped_uplift"] is not None
    assert duck["by_goal"][GOALS[1]][1]["converted"] > 0 and duck["guardrails"]
    assert any("planned sample size" in w for w in duck["warnings"])  # the definition was read on Spark too


def test_counts_match_plain_python_over_the_generated_rows(built, readouts):
    _, truth = built
    duck, spark_res, spark_exposures = readouts
    exposed, converted, nps_net = {"control": 0, "b": 0}, {"control": 0, "b": 0}, {"control": 0, "b": 0}
    multi = 0
    for person in truth.values():
        first, variant = person["seen"][0]  # days are relative to the first exposure
        assert first == min(person["seen"])[0]
        if len({v for _, v in person["seen"]}) > 1:
            multi += 1
            continue
        exposed[variant] += 1
        converted[variant] += any(0 <= d < WINDOW for d in person["purchases"])
        answers = sorted((d, s) for d, s in person["nps"] if 0 <= d < WINDOW)
        if answers:  # the first answer in the window: promoter +1, detractor −1
            nps_net[variant] += 1 if answers[0][1] >= 9 else -1 if answers[0][1] <= 6 else 0
    assert multi >= 3 and min(exposed.values()) > 100
    for res in (duck, spark_res):
        assert res["excluded_multiple_variants"] == multi
        for row in res["variants"]:
            v = row["variant"]
            assert (row["exposed"], row["converted"]) == (exposed[v], converted[v])
            assert round(row["nps"] * row["nps_n"] / 100) == nps_net[v]
    assert len(spark_exposures) == sum(exposed.values()) + multi
