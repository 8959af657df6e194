"""The command-line contract: global --workspace, exit codes, errors on stderr, JSON output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cxlens

CXLENS = [sys.executable, "-m", "cxlens"]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CXLENS, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=120
    )


def test_import_then_reimport_reports_counts(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "fb.csv"
    f.write_text("ts,metric,score\n2024-01-01,nps,10\n2024-01-02,nps,2\n")
    first = run("--workspace", str(ws), "import", "feedback", str(f))
    assert first.returncode == 0, first.stderr
    assert "feedback: 2 rows added from fb.csv (0 already present or repeated)" in first.stdout
    second = run("--workspace", str(ws), "import", "feedback", str(f))
    assert "feedback: 0 rows added from fb.csv (2 already present or repeated)" in second.stdout


def test_workspace_from_environment_variable(tmp_path):
    ws = tmp_path / "env.duckdb"
    f = tmp_path / "o.csv"
    f.write_text("order_id,customer_id,ts,amount\no1,c1,2024-01-01,3\n")
    res = run("import", "orders", str(f), env={"CXLENS_WORKSPACE": str(ws)}, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert ws.exists()


def test_bad_input_exits_non_zero_with_the_error_on_stderr(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "bad.csv"
    f.write_text("ts,metric,score\n2024-01-01,nps,10\n2024-01-02,nps,ten\n")
    res = run("--workspace", str(ws), "import", "feedback", str(f))
    assert res.returncode == 1
    assert res.stdout == ""
    assert "error: column 'score' in bad.csv row 2 is 'ten'; expected a number" in res.stderr
    unknown = run("--workspace", str(ws), "import", "surveyz", str(f))
    assert unknown.returncode == 1 and "unknown import kind 'surveyz'" in unknown.stderr
    usage = run("--workspace", str(ws), "import")
    assert usage.returncode == 2


def test_journey_export_load_roundtrip(tmp_path):
    ws = tmp_path / "w.duckdb"
    exported = run("--workspace", str(ws), "journey", "export")
    assert exported.returncode == 0 and "stage: delivery" not in exported.stdout and "id: delivery" in exported.stdout
    j = tmp_path / "j.yaml"
    j.write_text("name: tiny\nstages: [browse, buy]\ntouchpoints:\n  - {id: shop, stage: buy, channel: store}\n")
    assert run("--workspace", str(ws), "journey", "load", str(j)).returncode == 0
    again = run("--workspace", str(ws), "journey", "export")
    assert "name: tiny" in again.stdout and "id: shop" in again.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [a]\ntouchpoints: [{id: x, stage: zz}]\n")
    res = run("--workspace", str(ws), "journey", "load", str(bad))
    assert res.returncode == 1 and "touchpoint 'x' has stage 'zz'" in res.stderr


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_metrics_nps_machine_formats(tmp_path, fmt):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "fb.csv"
    # touchpoint a: 2 promoters, 1 passive, 1 detractor -> NPS 25; b: 1 detractor -> -100
    f.write_text(
        "ts,metric,score,touchpoint\n"
        "2024-01-01,nps,10,a\n2024-01-02,nps,9,a\n2024-01-03,nps,7,a\n2024-01-04,nps,3,a\n2024-01-05,nps,0,b\n"
    )
    assert run("--workspace", str(ws), "import", "feedback", str(f)).returncode == 0
    res = run("--workspace", str(ws), "metrics", "nps", "--by", "touchpoint", "--format", fmt)
    assert res.returncode == 0, res.stderr
    if fmt == "json":
        rows = json.loads(res.stdout)
        assert [r["touchpoint"] for r in rows] == ["a", "b"]
        a = rows[0]
        assert (a["nps"], a["n"], a["promoters"], a["passives"], a["detractors"]) == (25.0, 4, 2, 1, 1)
        # Var = 100^2 [(p+d) - (p-d)^2]/n with p=.5, d=.25
        se = 100 * ((0.75 - 0.25**2) / 4) ** 0.5
        assert a["ci_low"] == pytest.approx(max(-100, 25 - 1.96 * se), abs=1e-9)
        assert a["ci_high"] == pytest.approx(min(100, 25 + 1.96 * se), abs=1e-9)
        assert rows[1]["nps"] == -100.0
    else:
        lines = res.stdout.strip().splitlines()
        assert lines[0].startswith("touchpoint,nps,n,promoters,passives,detractors")
        assert lines[1].startswith("a,25.0,4,2,1,1")


def test_metrics_with_period_prints_iso_period_start(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "fb.csv"
    f.write_text("ts,metric,score\n2024-01-31T23:00:00,csat,5\n2024-02-01T01:00:00,csat,1\n2024-02-02,csat,4\n")
    assert run("--workspace", str(ws), "import", "feedback", str(f)).returncode == 0
    res = run("--workspace", str(ws), "metrics", "csat", "--period", "month", "--format", "json")
    rows = json.loads(res.stdout)
    assert [(r["period"], r["csat"], r["n"]) for r in rows] == [("2024-01-01", 100.0, 1), ("2024-02-01", 50.0, 2)]
    assert {"csat", "n", "ci_low", "ci_high"} <= set(rows[0])


def test_unknown_metric_and_dimension(tmp_path):
    ws = tmp_path / "w.duckdb"
    res = run("--workspace", str(ws), "metrics", "happiness")
    assert res.returncode == 1 and "unknown metric 'happiness'" in res.stderr
    res = run("--workspace", str(ws), "metrics", "nps", "--by", "colour", "--format", "json")
    assert res.returncode == 1 and "colour" in res.stderr


def test_set_gives_a_constant_column(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "answers.csv"
    f.write_text("created,rating\n2024-01-01,10\n2024-01-02,6\n")
    res = run(
        "--workspace", str(ws), "import", "feedback", str(f), "--map", "score=rating,ts=created", "--set", "metric=nps"
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads(run("--workspace", str(ws), "metrics", "nps", "--format", "json").stdout)
    assert (rows[0]["nps"], rows[0]["n"]) == (0.0, 2)


def test_funnel_json_contract(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "events.csv"
    # c1 converts; c2 stops at the cart; c3 skips the cart; c4 reaches the cart after the 7-day window
    f.write_text(
        "customer_id,ts,name,channel\n"
        "c1,2024-01-01 10:00,visit,web\nc1,2024-01-01 10:05,add_to_cart,web\nc1,2024-01-02 09:00,purchase,web\n"
        "c2,2024-01-01 11:00,visit,app\nc2,2024-01-01 11:10,add_to_cart,app\n"
        "c3,2024-01-03 08:00,visit,web\nc3,2024-01-03 08:30,purchase,web\n"
        "c4,2024-01-01 08:00,visit,app\nc4,2024-01-11 08:00,add_to_cart,app\n"
    )
    assert run("--workspace", str(ws), "import", "events", str(f)).returncode == 0
    res = run("--workspace", str(ws), "funnel", "visit>add_to_cart>purchase", "--window", "7d", "--format", "json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    got = [(r["step"], r["event"], r["customers"], r["conversion"], r["step_conversion"]) for r in rows]
    assert got == [
        (1, "visit", 4, 1.0, 1.0),
        (2, "add_to_cart", 2, 0.5, 0.5),
        (3, "purchase", 1, 0.25, 0.5),
    ]
    by = json.loads(
        run(
            "--workspace",
            str(ws),
            "funnel",
            "visit>add_to_cart",
            "--window",
            "30d",
            "--by",
            "channel",
            "--format",
            "json",
        ).stdout
    )
    assert [(r["channel"], r["step"], r["customers"]) for r in by] == [
        ("app", 1, 2),
        ("app", 2, 2),
        ("web", 1, 2),
        ("web", 2, 1),
    ]
    bad = run("--workspace", str(ws), "funnel", "visit>add_to_cart", "--window", "7x")
    assert bad.returncode == 1 and "'7x'" in bad.stderr


def test_paths_and_journey_map_commands(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "events.csv"
    f.write_text(
        "customer_id,ts,name,touchpoint\n"
        "c1,2024-01-01 10:00,visit,homepage\nc1,2024-01-01 10:05,checkout,checkout\nc1,2024-01-01 10:06,purchase,checkout\n"
        "c2,2024-01-01 11:00,visit,homepage\nc2,2024-01-01 11:10,checkout,checkout\nc2,2024-01-01 11:20,visit,homepage\n"
        "c3,2024-01-02 09:00,checkout,checkout\nc3,2024-01-02 09:01,purchase,checkout\n"
    )
    assert run("--workspace", str(ws), "import", "events", str(f)).returncode == 0
    res = run("--workspace", str(ws), "paths", "--from", "checkout", "--steps", "2", "--format", "json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    # c1 and c3 go checkout > purchase, c2 checkout > visit
    assert [(r["path"], r["customers"]) for r in rows] == [("checkout > purchase", 2), ("checkout > visit", 1)]
    drop = json.loads(run("--workspace", str(ws), "paths", "--before-dropoff", "purchase", "--format", "json").stdout)
    assert [(r["name"], r["customers"]) for r in drop] == [("visit", 1)]
    jm = run("--workspace", str(ws), "journey", "map", "--format", "json")
    assert jm.returncode == 0, jm.stderr
    cells = {(r["stage"], r["touchpoint"]): r for r in json.loads(jm.stdout)}
    assert cells[("awareness", "homepage")]["volume"] == 3 and cells[("purchase", "checkout")]["volume"] == 5
    html = tmp_path / "map.html"
    assert run("--workspace", str(ws), "journey", "map", "--out", str(html)).returncode == 0
    assert "<html" in html.read_text()[:200].lower()


@pytest.mark.realdata
def test_clv_fit_json_reproduces_fader_hardie_lee_on_cdnow(real_data):
    summary = real_data / "cdnow" / "cdnow_customers_summary_with_transactions.csv"
    res = run(
        "clv",
        "fit",
        "--model",
        "bgnbd",
        "--summary",
        str(summary),
        "--map",
        "frequency=x,recency=t_x,monetary=zbar",
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["model"] == "bgnbd" and got["n_customers"] == 2357
    # Fader, Hardie & Lee (2005), Table: r=0.243, alpha=4.414, a=0.793, b=2.426, LL=-9582.4
    for k, paper in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert got["params"][k] == pytest.approx(paper, rel=5e-3), k
    assert got["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    gg = json.loads(
        run(
            "clv",
            "fit",
            "--model",
            "gammagamma",
            "--summary",
            str(summary),
            "--map",
            "frequency=x,recency=t_x,monetary=zbar",
            "--format",
            "json",
        ).stdout
    )
    assert gg["n_customers"] == 946
    for k, paper in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert gg["params"][k] == pytest.approx(paper, rel=5e-3), k


def test_segments_and_churn_commands_match_the_library(tmp_path):
    import cxlens
    from cxlens.customers.segments import rfm_segments
    from cxlens.ingest import write_demo

    path = tmp_path / "demo.duckdb"
    with cxlens.open(path) as w:
        write_demo(w, "small", seed=1)
        want = rfm_segments(w).set_index("customer_id")["segment"]
    rows = json.loads(run("--workspace", str(path), "segments", "rfm", "--format", "json").stdout)
    got = {r["customer_id"]: r["segment"] for r in rows}
    assert got == want.to_dict()
    model = tmp_path / "churn.joblib"
    trained = run("--workspace", str(path), "churn", "train", "--model", str(model), "--format", "json")
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert 0.5 < summary["model"]["roc_auc"] <= 1 and model.exists()
    scored = run("--workspace", str(path), "churn", "score", "--model", str(model), "--format", "json")
    risks = [r["churn_risk"] for r in json.loads(scored.stdout)]
    assert risks == sorted(risks, reverse=True) and all(0 <= r <= 1 for r in risks)


@pytest.mark.realdata
def test_rees46_import_and_funnel_match_pandas(real_data, tmp_path):
    import pandas as pd

    ws = tmp_path / "w.duckdb"
    assert run("--workspace", str(ws), "import", "rees46", str(real_data / "rees46-events-head")).returncode == 0
    rows = json.loads(
        run("--workspace", str(ws), "funnel", "view>cart>purchase", "--window", "1h", "--format", "json").stdout
    )
    raw = pd.read_csv(real_data / "rees46-events-head" / "2019-Oct_first17434rows.csv")
    raw["t"] = pd.to_datetime(raw["event_time"].str.replace(" UTC", ""))
    # independent count of step 1 and 2: users with a view, and with a cart strictly after a view within 1 hour
    first_view = raw[raw.event_type == "view"].groupby("user_id")["t"].apply(list)
    carts = raw[raw.event_type == "cart"].groupby("user_id")["t"].apply(list)
    reached_cart = sum(
        any(0 < (c - v).total_seconds() <= 3600 for v in first_view.get(u, []) for c in cs) for u, cs in carts.items()
    )
    assert rows[0]["customers"] == raw.loc[raw.event_type == "view", "user_id"].nunique()
    assert rows[1]["customers"] == reached_cart


def test_voice_score_adds_sentiment_to_every_row(tmp_path):
    f = tmp_path / "comments.csv"
    f.write_text('id,text,extra\n1,I love it,a\n2,"terrible, never again",b\n3,,c\n')
    res = run("voice", "score", str(f), "--format", "json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["id"] for r in rows] == ["1", "2", "3"] and [r["extra"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["sentiment_label"] == "positive" and rows[0]["sentiment_score"] > 0.5
    assert rows[1]["sentiment_label"] == "negative" and rows[1]["sentiment_score"] < -0.5
    assert all(r["sentiment_score"] is None or -1 <= r["sentiment_score"] <= 1 for r in rows)
    bad = run("voice", "score", str(f), "--text-column", "body")
    assert bad.returncode == 1 and "has no column 'body'" in bad.stderr


def test_voice_drivers_command_matches_the_library(tmp_path):
    import cxlens
    from cxlens.ingest import write_demo
    from cxlens.voice.drivers import key_drivers

    path = tmp_path / "demo.duckdb"
    with cxlens.open(path) as w:
        write_demo(w, "small", seed=2)
        want = key_drivers(w, "nps", "touchpoints", n_boot=20, seed=0)
    res = run(
        "--workspace",
        str(path),
        "voice",
        "drivers",
        "--boot",
        "20",
        "--format",
        "json",
        "--chart",
        str(tmp_path / "q.json"),
    )
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert [r["driver"] for r in got] == want["driver"].tolist()
    assert [r["share"] for r in got] == pytest.approx(want["share"].tolist())
    assert json.loads((tmp_path / "q.json").read_text())["$schema"].startswith(
        "https://vega.github.io/schema/vega-lite/"
    )


def test_recommend_command_matches_the_library(tmp_path):
    import cxlens
    from cxlens.customers.recommend import ItemItemRecommender, interactions_from_workspace
    from cxlens.ingest import write_demo

    path = tmp_path / "demo.duckdb"
    with cxlens.open(path) as w:
        write_demo(w, "small", seed=4)
        inter = interactions_from_workspace(w)
        cid = str(inter["customer_id"].iloc[0])
        want = ItemItemRecommender().fit(inter).recommend([cid], 5)
    res = run("--workspace", str(path), "recommend", "--customer", cid, "--n", "5", "--format", "json")
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert [r["item"] for r in got] == want["item"].tolist() and len(got) == 5
    bad = run("--workspace", str(path), "recommend")
    assert bad.returncode == 1 and "--customer" in bad.stderr


@pytest.mark.realdata
def test_import_airline_tweets_then_analyse_is_incremental(real_data, tmp_path):
    import pandas as pd

    ws = tmp_path / "w.duckdb"
    res = run("--workspace", str(ws), "import", "airline-tweets", str(real_data / "airline-tweets" / "Tweets.csv"))
    assert res.returncode == 0, res.stderr
    unique = pd.read_csv(real_data / "airline-tweets" / "Tweets.csv")["tweet_id"].nunique()
    assert f"reviews: {unique:,} rows added" in res.stdout
    first = run("--workspace", str(ws), "voice", "analyse", "--format", "json")
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)) == unique
    again = run("--workspace", str(ws), "voice", "analyse", "--format", "json")
    assert "0 verbatims analysed now" in again.stderr


def test_customer_360_export_and_erase(tmp_path):
    import cxlens
    from cxlens.ingest import write_demo

    path = tmp_path / "demo.duckdb"
    with cxlens.open(path) as w:
        write_demo(w, "small", seed=5)
        cid = w.sql("SELECT customer_id FROM feedback WHERE customer_id IS NOT NULL LIMIT 1")["customer_id"].iloc[0]
        n_feedback = int(w.sql("SELECT count(*) n FROM feedback WHERE customer_id = ?", [cid])["n"].iloc[0])
        total = w.counts()["feedback"]
    shown = json.loads(run("--workspace", str(path), "customer", cid, "--format", "json").stdout)
    assert shown["traits"]["email"] == "***" and shown["summary"]["feedback"] == n_feedback
    exported = json.loads(run("--workspace", str(path), "customer", "export", cid).stdout)
    assert len(exported["tables"]["feedback"]) == n_feedback and "@" in exported["tables"]["customers"][0]["email"]
    erased = run("--workspace", str(path), "customer", "erase", cid, "--yes")
    assert erased.returncode == 0, erased.stderr
    with cxlens.open(path) as w:
        assert w.counts()["feedback"] == total - n_feedback
    again = run("--workspace", str(path), "customer", cid)
    assert again.returncode == 1 and f"no customer '{cid}'" in again.stderr
    cards = json.loads(run("--workspace", str(path), "personas", "--format", "json").stdout)
    assert cards and all(c["description"] for c in cards)


def test_voice_themes_and_pain_points_commands(tmp_path):
    import cxlens
    from cxlens.ingest import write_demo

    path = tmp_path / "demo.duckdb"
    with cxlens.open(path) as w:
        write_demo(w, "small", seed=0)
        from cxlens.voice import verbatims

        n_verbatims = len(verbatims(w))
    rules = tmp_path / "rules.yaml"
    rules.write_text("Late delivery: [late, delay, delayed]\n")
    res = run("--workspace", str(path), "voice", "themes", "--k", "8", "--rules", str(rules), "--format", "json")
    assert res.returncode == 0, res.stderr
    themes = json.loads(res.stdout)
    names = [t["name"] for t in themes]
    assert "Late delivery" in names and len(themes) >= 8
    # sub-themes: "name (size)" pairs whose sizes add up to the theme's (rule themes have none)
    for t in themes:
        if t["subthemes"]:
            sizes = [int(part.rsplit("(", 1)[1].rstrip(")")) for part in t["subthemes"].split("; ")]
            assert sum(sizes) == t["size"]
    # a theme can never hold more texts than there are verbatims
    assert all(0 < t["size"] <= n_verbatims for t in themes)
    pains = json.loads(run("--workspace", str(path), "voice", "pain-points", "--k", "8", "--format", "json").stdout)
    assert pains and all(p["negative"] <= p["n"] for p in pains)
    bad = run("--workspace", str(path), "voice", "themes", "--rules", str(tmp_path / "missing.yaml"))
    assert bad.returncode == 1 and "missing.yaml" in bad.stderr
    # pain points say what each effect means: score with the theme vs without, and its interval; the
    # row of the verbatims without a theme ("other", not an issue theme) compares them with the rest
    scored = [p for p in pains if p.get("effect") is not None and p["effect"] == p["effect"]]
    assert any(p["issue"] for p in scored)
    assert all(" when the theme is mentioned vs " in p["explanation"] for p in scored if p["issue"])
    assert all(
        p["theme"] == "other" and re.search(r" without a theme vs \S+ with one: ", p["explanation"])
        for p in scored
        if not p["issue"]
    )
    bad_k = run("--workspace", str(path), "voice", "themes", "--k", "ten", "--refit")
    assert bad_k.returncode == 1 and "number of themes (--k) is 'ten'" in " ".join(bad_k.stderr.split())


def test_serve_refuses_a_public_address_without_sign_in(tmp_path):
    res = run("--workspace", str(tmp_path / "w.duckdb"), "serve", "--host", "0.0.0.0", "--port", "8999")
    assert res.returncode == 1
    msg = " ".join(res.stderr.split())  # rich wraps long lines
    assert "refusing to serve on '0.0.0.0'" in msg and "cxlens users create EMAIL --role admin" in msg


def test_piped_tables_keep_every_name_and_value_whole(tmp_path):
    ws = tmp_path / "p.duckdb"
    assert run("--workspace", str(ws), "demo", "--size", "300").returncode == 0
    env = {**os.environ, "COLUMNS": "40"}  # a narrow terminal: still nothing is cut when piped
    r = subprocess.run([sys.executable, "-m", "cxlens", "--workspace", str(ws), "journey", "map"],
                       capture_output=True, text=True, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0].split()
    assert header[:4] == ["stage", "touchpoint", "volume", "reach"] and "pain_score" in header
    assert "…" not in r.stdout and "order_confirmation" in r.stdout
    with cxlens.open(ws) as w:
        want = w.journeys.map()
    lines = r.stdout.splitlines()[2:]
    assert len(lines) == len(want)


def test_csv_keeps_the_time_of_timestamps(tmp_path):
    ws = tmp_path / "t.duckdb"
    with cxlens.open(ws) as w:
        from cxlens.jobs import queue

        queue.enqueue(w, "jobs.probe")
        created = w.scalar("SELECT created_at FROM jobs")
    r = run("--workspace", str(ws), "jobs", "list", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert created.isoformat() in r.stdout  # not cut to the date
