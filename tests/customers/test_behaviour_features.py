"""Behaviour features (rage/dead/error clicks, quick backs, sessions, frustration score) in the churn
model and the key drivers: hand-computed values, no leakage past the cutoff, used automatically when
the workspace has behaviour data (and only then), and scoring with the model's own feature set."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import cxlens
from cxlens.cli import app as cli_app
from cxlens.customers.churn_model import score_churn, train_churn
from cxlens.customers.features import BEHAVIOUR_FEATURES, customer_features, has_behaviour
from cxlens.errors import ConfigError
from cxlens.ingest import write_demo
from cxlens.voice.drivers import key_drivers
from cxlens.web.app import create_app

CUT = pd.Timestamp("2024-06-01")


def _ev(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "session_id", "ts", "type", "name"])
    df["event_id"] = [f"e{i}" for i in range(len(df))]
    df["ts"] = pd.to_datetime(df["ts"])
    df["properties"] = json.dumps({})
    return df


@pytest.fixture()
def tiny(tmp_path):
    with cxlens.open(tmp_path / "t.duckdb") as ws:
        ws.load(
            "customers", pd.DataFrame({"customer_id": ["c1", "c2"], "created_at": [pd.Timestamp("2023-01-01")] * 2})
        )
        ws.load("events", _ev([
            # c1, session s1: a page view, two rage clicks, a dead click; s2: a page view, an error click, a
            # quick back; a session without a page view (s3) is not a web session
            ("c1", "s1", "2024-05-20 10:00", "page", "/checkout"),
            ("c1", "s1", "2024-05-20 10:01", "track", "$rageclick"),
            ("c1", "s1", "2024-05-20 10:02", "track", "$rageclick"),
            ("c1", "s1", "2024-05-20 10:03", "track", "$deadclick"),
            ("c1", "s2", "2024-05-25 09:00", "page", "/cart"),
            ("c1", "s2", "2024-05-25 09:01", "track", "$errorclick"),
            ("c1", "s2", "2024-05-25 09:02", "track", "$quickback"),
            ("c1", "s3", "2024-05-26 09:00", "track", "$click"),
            # not counted: at or after the cutoff (the future), and older than 90 days
            ("c1", "s4", "2024-06-01 00:00", "page", "/checkout"),
            ("c1", "s4", "2024-06-02 10:00", "track", "$rageclick"),
            ("c1", "s0", "2024-02-01 10:00", "page", "/"),
            ("c1", "s0", "2024-02-01 10:01", "track", "$deadclick"),
            # c2: shopping events only, no behaviour
            ("c2", "s9", "2024-05-01 10:00", "track", "add_to_cart"),
        ]))  # fmt: skip
        yield ws


def test_the_features_by_hand_and_without_leakage(tiny):
    X = customer_features(tiny, CUT, behaviour=True)
    got = X.loc["c1", BEHAVIOUR_FEATURES].to_dict()
    assert got == {
        "rage_clicks": 2.0, "dead_clicks": 1.0, "error_clicks": 1.0, "quick_backs": 1.0, "excessive_scrolls": 0.0,
        "web_sessions": 2.0, "frustration_score": (3 * 2 + 2 * 1 + 3 * 1 + 1 * 1) / 2,
    }  # fmt: skip
    assert X.loc["c2", BEHAVIOUR_FEATURES].tolist() == [0.0] * len(BEHAVIOUR_FEATURES)
    # a day later the cutoff includes the page view and the rage click of s4
    later = customer_features(tiny, CUT + pd.Timedelta(days=2), behaviour=True).loc["c1"]
    assert (later["rage_clicks"], later["web_sessions"]) == (3.0, 3.0)
    assert not set(BEHAVIOUR_FEATURES) & set(customer_features(tiny, CUT).columns)  # off by default
    assert has_behaviour(tiny) and has_behaviour(tiny, CUT) and not has_behaviour(tiny, "2024-01-01")


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """The same 600-customer demo with and without behaviour (planted friction)."""
    d = tmp_path_factory.mktemp("demo")
    with cxlens.open(d / "b.duckdb") as b, cxlens.open(d / "p.duckdb") as p:
        write_demo(b, 600, seed=1, behaviour=True)
        write_demo(p, 600, seed=1)
    return d / "b.duckdb", d / "p.duckdb"


def test_churn_uses_them_when_behaviour_data_exists(demos):
    with cxlens.open(demos[0], read_only=True) as b, cxlens.open(demos[1], read_only=True) as plain:
        t = train_churn(b, refit=False)
        assert t.model.feature_spec_["behaviour"] is True and t.summary()["behaviour_features"] is True
        assert {"rage_clicks", "dead_clicks", "frustration_score"} <= set(t.model.feature_names_in_)
        scores = score_churn(b, t.model, structured=True)  # scored with the same features
        assert len(scores) and scores["churn_risk"].between(0, 1).all()
        off = train_churn(b, behaviour=False, refit=False)
        assert off.model.feature_spec_["behaviour"] is False and "rage_clicks" not in off.model.feature_names_in_
        p = train_churn(plain, refit=False)
        assert p.model.feature_spec_["behaviour"] is False and "rage_clicks" not in p.model.feature_names_in_


def test_churn_cli(demos, tmp_path):
    for flag, want in (([], True), (["--no-behaviour"], False)):
        res = CliRunner().invoke(cli_app, ["-w", str(demos[0]), "churn", "train", "--model", str(tmp_path / "m.joblib"),
                                           "--format", "json", *flag])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["behaviour_features"] is want


def test_key_drivers_add_behaviour_drivers_when_there_is_behaviour(demos):
    with cxlens.open(demos[0], read_only=True) as b, cxlens.open(demos[1], read_only=True) as plain:
        kd = key_drivers(b, "nps", n_boot=0)
        assert {"dead_clicks", "frustration_score"} <= set(kd.driver[kd.kind == "behaviour"])
        without = key_drivers(b, "nps", n_boot=0, behaviour=False)
        assert "behaviour" not in set(without.kind) and kd.attrs["r2"] >= without.attrs["r2"] - 1e-12  # nested
        assert "behaviour" not in set(key_drivers(plain, "nps", n_boot=0).kind)
        picked = key_drivers(b, "nps", ["dead_clicks", "frustration_score"], n_boot=0)
        assert set(picked.driver) == {"dead_clicks", "frustration_score"}
        with pytest.raises(ConfigError, match="level"):
            key_drivers(b, "nps", level="response", behaviour=True, n_boot=0)


def test_key_drivers_cli_and_api(demos):
    args = ["-w", str(demos[0]), "voice", "drivers", "--boot", "0", "--format", "json"]
    res = CliRunner().invoke(cli_app, args)
    assert res.exit_code == 0, res.output
    assert "behaviour" in {r["kind"] for r in json.loads(res.stdout)}
    res = CliRunner().invoke(cli_app, [*args, "--no-behaviour"])
    assert res.exit_code == 0 and "behaviour" not in {r["kind"] for r in json.loads(res.stdout)}
    with TestClient(create_app(demos[0])) as c:
        r = c.get("/api/v1/voice/drivers", params={"target": "nps"})
        assert r.status_code == 200, r.text
        assert "dead_clicks" in r.text and '"behaviour"' in r.text
