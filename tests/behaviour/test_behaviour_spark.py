"""ws.behaviour on Spark (a workspace over Spark through Ibis) gives the same figures as on DuckDB: the
demo's behaviour (planted friction) for the frustration, session, exit-page and heatmap queries, and
hand-made zone events for zoning (a Spark workspace has no settings: the zones are passed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.errors import ParameterError
from cxlens.ingest.simulate import write_demo
from cxlens.scale import to_spark

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SHOP = "https://shop.example.com"
ZONES = [{"name": "hero", "selector": "#hero"}, {"name": "cta", "selector": "#cta"}]


def _zone_events() -> pd.DataFrame:
    """Page /z: three page views; hero exposed in zv1 and zv2 and clicked in zv1 (twice) and zv3; cta
    clicked in zv2. Keys as the SDK sends them ($-prefixed, a JSON array of zones, numbers)."""
    t0 = datetime(2026, 11, 20, 9, 0, 0)
    rows = [
        ("zv1", 0, "page", "/z", {"$pageview_id": "zv1"}),
        ("zv1", 1, "track", "$zone_exposed", {"$pageview_id": "zv1", "$zone": "hero"}),
        ("zv1", 2, "track", "$click", {"$pageview_id": "zv1", "$zones": ["hero"], "$x": 10, "$y": 20,
                                       "$viewport_width": 1280, "$hesitation_ms": 300, "$since_load_ms": 2000}),
        ("zv1", 3, "track", "$click", {"$pageview_id": "zv1", "$zones": ["hero"], "$x": 12, "$y": 22,
                                       "$viewport_width": 1280, "$hesitation_ms": 900, "$since_load_ms": 3000}),
        ("zv2", 10, "page", "/z", {"$pageview_id": "zv2"}),
        ("zv2", 11, "track", "$zone_exposed", {"$pageview_id": "zv2", "$zone": "hero"}),
        ("zv2", 12, "track", "$click", {"$pageview_id": "zv2", "$zones": ["cta"], "$x": 600, "$y": 400,
                                        "$viewport_width": 1280, "$hesitation_ms": 100, "$since_load_ms": 4000}),
        ("zv3", 20, "page", "/z", {"$pageview_id": "zv3"}),
        ("zv3", 21, "track", "$click", {"$pageview_id": "zv3", "$zones": ["hero", "cta"], "$x": 20, "$y": 30,
                                        "$viewport_width": 1280, "$hesitation_ms": 500, "$since_load_ms": 1000}),
    ]  # fmt: skip
    return pd.DataFrame(
        [
            {
                "event_id": f"z{i}", "customer_id": f"zc-{pv}", "anonymous_id": f"za-{pv}", "session_id": f"zs-{pv}",
                "ts": t0 + timedelta(seconds=sec), "type": typ, "name": name, "channel": "web",
                "touchpoint": None, "url": SHOP + "/z?from=ad", "properties": json.dumps(props),
            }
            for i, (pv, sec, typ, name, props) in enumerate(rows)
        ]
    )  # fmt: skip


@pytest.fixture(scope="module")
def duck(tmp_path_factory):
    ws = cxlens.open(tmp_path_factory.mktemp("bspark") / "b.duckdb")
    write_demo(ws, 300, seed=5, behaviour=True)
    ws.insert("events", _zone_events())
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def sws(spark, duck):
    return cxlens.connect(to_spark(duck, spark))


def _same(got: pd.DataFrame, want: pd.DataFrame, keys: list[str]) -> None:
    assert len(want) > 0
    assert list(got.columns) == list(want.columns)
    got = got.sort_values(keys, ignore_index=True)
    want = want.sort_values(keys, ignore_index=True)
    assert len(got) == len(want)
    for c in want.columns:
        x, y = got[c], want[c]
        if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9, err_msg=c)
        elif pd.api.types.is_datetime64_any_dtype(y):
            assert (pd.to_datetime(x).astype("datetime64[us]") == y.astype("datetime64[us]")).all(), c
        else:
            assert [None if pd.isna(v) else v for v in x] == [None if pd.isna(v) else v for v in y], c


@pytest.mark.parametrize(
    ("call", "keys"),
    [
        (lambda b: b.frustration(), ["url"]),
        (lambda b: b.frustration(by="selector"), ["url", "selector"]),
        (lambda b: b.frustration(by="touchpoint"), ["touchpoint"]),
        (lambda b: b.sessions(), ["session_id"]),
        (lambda b: b.exit_pages(limit=1000), ["url"]),
        (lambda b: b.heatmap(SHOP + "/checkout", width="mobile", x_bins=10), ["x", "y"]),
        (lambda b: b.heatmap("/checkout", kind="deadclick", width="mobile"), ["x", "y"]),
        (lambda b: b.heatmap(SHOP + "/", kind="scroll", width="mobile"), ["depth"]),
        (lambda b: b.clickmap(SHOP + "/cart"), ["selector"]),
        (lambda b: b.zones("/z", definitions=ZONES), ["zone"]),
    ],
    ids=[
        "by-url",
        "by-selector",
        "by-touchpoint",
        "sessions",
        "exit-pages",
        "heatmap",
        "deadclicks",
        "scroll",
        "clickmap",
        "zones",
    ],  # fmt: skip
)
def test_behaviour_on_spark_equals_duckdb(duck, sws, call, keys):
    want = call(duck.behaviour)
    _same(call(sws.behaviour), want, keys)


def test_zones_given_by_the_caller_are_checked_and_counted(duck):
    z = duck.behaviour.zones(SHOP + "/z", definitions=ZONES).set_index("zone")
    # hero: clicked in zv1 (2 clicks) and zv3; exposed in zv1, zv2; exposed and clicked: zv1
    assert (z.loc["hero", "clicked"], z.loc["hero", "clicks"], z.loc["hero", "exposed"]) == (2, 3, 2)
    assert z.loc["hero", "exposed_clicked"] == 1 and z.loc["cta", "clicked"] == 2
    with pytest.raises(ParameterError, match=r"zones\[0\]\.selector"):
        duck.behaviour.zones("/z", definitions=[{"name": "hero"}])
