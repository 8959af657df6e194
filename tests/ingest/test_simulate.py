"""Demo-data generator: determinism, canonical frames, integrity, planted effects, loading."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.ingest.simulate import SIZES, TABLE_ORDER, simulate, write_demo
from cxlens.schema.tables import FLOAT, INT, SCORE_RANGES, TABLES, TIMESTAMP
from cxlens.schema.validate import validate_frame


@pytest.fixture(scope="module")
def data():
    return simulate("small", seed=0)


def _hashes(d) -> dict[str, int]:
    return {name: int(pd.util.hash_pandas_object(f, index=False).sum()) for name, f in d.frames.items()}


def _props(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([json.loads(p) if p else {} for p in frame["properties"]], index=frame.index)


def test_same_seed_gives_identical_frames_and_truth(data):
    again = simulate("small", seed=0)
    assert _hashes(again) == _hashes(data)
    assert json.dumps(again.truth, sort_keys=True) == json.dumps(data.truth, sort_keys=True)


def test_other_seed_gives_other_data(data):
    other = simulate("small", seed=1)
    h0, h1 = _hashes(data), _hashes(other)
    assert all(h0[t] != h1[t] for t in TABLE_ORDER)


def test_size_names_and_numbers():
    assert SIZES == {"small": 2_000, "medium": 50_000, "large": 1_000_000}
    assert len(simulate(37, seed=2).customers) == 37
    with pytest.raises(ValueError, match="'huge'"):
        simulate("huge")
    with pytest.raises(ValueError, match="at least 1"):
        simulate(0)


def test_small_has_the_advertised_customers_and_every_table(data):
    counts = data.counts()
    assert counts["customers"] == 2_000
    assert list(counts) == TABLE_ORDER
    # every table is populated, the events dominate
    assert min(counts.values()) > 50
    assert counts["events"] > 10 * counts["customers"]
    json.dumps(data.truth)  # serialisable


@pytest.mark.parametrize("name", TABLE_ORDER)
def test_frames_pass_validation_unchanged(data, name):
    frame = data.frames[name]
    table = TABLES[name]
    assert list(frame.columns) == table.column_names
    expected = {TIMESTAMP: "datetime64[us]", FLOAT: "float64", INT: "Int64"}
    for c in table.columns:
        assert str(frame[c.name].dtype) == expected.get(c.type, "object"), c.name
    out = validate_frame(frame, table, source=name)
    assert len(out) == len(frame)
    keys = list(table.key)
    assert not frame.duplicated(keys).any()
    # validation keeps the values (text columns come back as Arrow-backed str, empty as missing)
    pd.testing.assert_frame_equal(_values(out), _values(frame), check_dtype=False)


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), None)


def test_referential_integrity(data):
    customers = set(data.customers["customer_id"])
    orders = set(data.orders["order_id"])
    assert set(data.orders["customer_id"]) <= customers
    assert set(data.order_items["order_id"]) == orders  # every order has items, every item an order
    for name in ("events", "feedback", "tickets", "reviews"):
        assert set(data.frames[name]["customer_id"].dropna()) <= customers, name
    assert set(data.reviews["product_id"]) <= set(data.order_items["product_id"])
    fb = _props(data.feedback)
    assert set(fb["order_id"].dropna()) <= orders
    assert set(fb["ticket_id"].dropna()) <= set(data.tickets["ticket_id"])
    ev = _props(data.events)
    purchases = data.events[data.events["name"] == "purchase"]
    assert sorted(ev.loc[purchases.index, "order_id"]) == sorted(orders)


def test_everything_happens_inside_the_simulated_period(data):
    lo, hi = pd.Timestamp("2025-01-01"), pd.Timestamp("2026-06-30 23:59:59")
    for name, frame in data.frames.items():
        for c in TABLES[name].columns:
            if c.type == TIMESTAMP:
                ts = frame[c.name].dropna()
                assert ts.min() >= lo and ts.max() <= hi, (name, c.name)


def test_scores_are_whole_numbers_in_their_metric_range(data):
    fb = data.feedback
    assert set(fb["metric"]) == {"nps", "csat", "ces"}
    for metric, (lo, hi) in SCORE_RANGES.items():
        s = fb.loc[fb["metric"] == metric, "score"]
        assert s.between(lo, hi).all() and (s == s.round()).all(), metric
    assert data.reviews["rating"].between(1, 5).all()
    survey_metric = fb.groupby("survey_id")["metric"].agg(set).to_dict()
    assert survey_metric == {
        "nps_relationship": {"nps"},
        "nps_purchase": {"nps"},
        "csat_delivery": {"csat"},
        "csat_support": {"csat"},
        "ces_support": {"ces"},
        "ces_checkout": {"ces"},
    }


def test_order_items_add_up_to_the_order_amount(data):
    items = data.order_items.assign(line=lambda f: f["quantity"] * f["price"])
    total = items.groupby("order_id")["line"].sum()
    orders = data.orders.set_index("order_id")
    completed = orders[orders["status"] == "completed"]
    assert len(completed) > 0.8 * len(orders)
    assert (total.loc[completed.index] - completed["amount"]).abs().max() < 0.01
    assert ((total.loc[orders.index] - orders["amount"]).abs() < 0.01).all()
    assert (items["price"] > 0).all() and (items["quantity"] >= 1).all()
    # item ids number the lines of each order: "1", "2", ...
    expected = items.groupby("order_id").cumcount().add(1).astype(str)
    assert (items["item_id"] == expected).all()


def test_purchase_events_carry_the_order_revenue(data):
    ev = data.events
    purchases = ev[ev["name"] == "purchase"].copy()
    purchases["order_id"] = _props(purchases)["order_id"]
    merged = purchases.merge(data.orders, on="order_id", suffixes=("", "_order"))
    assert len(merged) == len(data.orders)
    assert np.allclose(merged["revenue"], merged["amount"])
    assert (merged["customer_id"] == merged["customer_id_order"]).all()
    assert ev.loc[ev["name"] != "purchase", "revenue"].isna().all()


def test_events_follow_the_naming_contract(data):
    ev = data.events
    assert set(ev["name"]) == set(data.truth["event_names"])
    assert ev[["touchpoint", "channel", "stage", "type"]].notna().all().all()
    pages = ev["name"].isin(["visit", "product_view"])
    assert (ev.loc[pages, "type"] == "page").all() and (ev.loc[~pages, "type"] == "track").all()
    web_pages = pages & (ev["channel"] == "web")
    assert ev.loc[web_pages, "url"].str.startswith("https://").all()
    assert ev.loc[web_pages, "session_id"].notna().all() and ev.loc[web_pages, "anonymous_id"].notna().all()
    stage_of = cxlens.default_journey().stage_of()
    assert (ev["stage"] == ev["touchpoint"].map(stage_of)).all()
    assert set(ev["touchpoint"]) <= set(stage_of)
    assert ev["event_id"].is_unique and ev["ts"].is_monotonic_increasing


def _session_funnel(ev: pd.DataFrame) -> pd.DataFrame:
    s = ev[ev["session_id"].notna() & ev["channel"].isin(["web", "mobile_app"])]
    flags = pd.crosstab(s["session_id"], s["name"]).gt(0)
    chan = s.groupby("session_id")["channel"].first()
    return flags.assign(channel=chan)


def test_app_checkout_is_planted_friction_with_higher_drop_off(data):
    friction = {(f["touchpoint"], f["channel"]) for f in data.truth["friction_touchpoints"]}
    assert friction == {("checkout", "mobile_app"), ("delivery", "logistics")}
    f = _session_funnel(data.events)
    at_checkout = f[f["checkout"]]
    drop = 1 - at_checkout.groupby("channel")["purchase"].mean()
    assert drop["mobile_app"] > drop["web"] + 0.15
    # the other steps do not differ that much between the channels
    at_cart = f[f["add_to_cart"]]
    to_checkout = at_cart.groupby("channel")["checkout"].mean()
    assert abs(to_checkout["mobile_app"] - to_checkout["web"]) < 0.1
    truth = data.truth["funnel"]["observed_step_conversion"]
    assert drop["mobile_app"] == pytest.approx(1 - truth["mobile_app"]["checkout->purchase"], abs=1e-4)


def test_friction_touchpoints_score_lower_than_the_rest(data):
    fb = data.feedback
    csat = fb[fb["metric"] == "csat"]
    at_delivery = csat["touchpoint"] == "delivery"
    assert csat.loc[at_delivery, "score"].mean() < csat.loc[~at_delivery, "score"].mean() - 0.2
    ces = fb[fb["metric"] == "ces"]
    app_checkout = (ces["touchpoint"] == "checkout") & (ces["channel"] == "mobile_app")
    assert ces.loc[app_checkout, "score"].mean() < ces.loc[~app_checkout, "score"].mean() - 0.5


def test_cart_abandonment_rate_matches_the_truth(data):
    f = _session_funnel(data.events)
    carts = f[f["add_to_cart"]]
    rate = 1 - carts["purchase"].mean()
    assert 0.2 < rate < 0.8
    assert rate == pytest.approx(data.truth["cart_abandonment_rate"], abs=1e-4)


def test_late_delivery_lowers_delivery_csat_as_recorded(data):
    fb = data.feedback[data.feedback["survey_id"] == "csat_delivery"]
    order_id = _props(fb)["order_id"]
    delivery = data.events[data.events["name"] == "delivery"]
    late = _props(delivery).set_index("order_id")["late"]
    is_late = order_id.map(late).astype(bool)
    diff = fb.loc[is_late, "score"].mean() - fb.loc[~is_late, "score"].mean()
    assert diff < -1.0
    observed = data.truth["drivers"]["observed"]["csat_delivery"]["late_delivery"]["difference"]
    assert diff == pytest.approx(observed, abs=1e-4)


def test_churned_customers_churn_after_their_activity_and_are_less_happy(data):
    cu = data.customers.set_index("customer_id")
    churned = cu["churned_at"].dropna()
    assert len(churned) / len(cu) == pytest.approx(data.truth["churn_rate"], abs=1e-4)
    assert 0.02 < data.truth["churn_rate"] < 0.5
    ev = data.events.groupby("customer_id")["ts"].agg(["min", "max"])
    assert (churned > ev.loc[churned.index, "min"]).all()
    assert (churned > ev.loc[churned.index, "max"]).all()
    assert (churned > cu.loc[churned.index, "created_at"]).all()
    nps = data.feedback[data.feedback["survey_id"] == "nps_relationship"]
    is_churned = nps["customer_id"].isin(churned.index)
    assert nps.loc[is_churned, "score"].mean() < nps.loc[~is_churned, "score"].mean() - 0.5
    angry = data.tickets["body"].str.contains("unacceptable|annoyed|fed up|Seriously|Third time", regex=True)
    t_churned = data.tickets["customer_id"].isin(churned.index)
    assert angry[t_churned].mean() > angry[~t_churned].mean()


def test_feedback_carries_true_theme_and_consistent_sentiment(data):
    fb = data.feedback
    props = _props(fb)
    assert set(props["theme"]) <= set(data.truth["themes"])
    assert props["theme"].notna().all()
    share = fb["comment"].notna().mean()
    assert 0.3 <= share <= 0.4
    nps = fb["metric"] == "nps"
    assert (fb.loc[nps & (props["sentiment"] == "positive"), "score"] >= 9).all()
    assert (fb.loc[nps & (props["sentiment"] == "negative"), "score"] <= 6).all()
    comments = fb["comment"].dropna()
    assert comments.nunique() > 0.6 * len(comments)
    late_words = comments[props.loc[comments.index, "theme"] == "delivery_delay"]
    assert (
        late_words.str.contains("late|delay|took|waited|postpon|slow|longer|forever|nothing came", case=False).mean()
        > 0.9
    )


def test_pii_is_planted_only_where_the_truth_says(data):
    pii = re.compile(r"[\w.]+@[\w.]+\.\w+|\+\d{2} \d{3} \d{4} \d{4}")
    fb = data.feedback.set_index("feedback_id")
    with_pii = fb["comment"].dropna().map(lambda c: bool(pii.search(c)))
    assert set(with_pii[with_pii].index) == set(data.truth["pii"]["feedback_ids"])
    assert len(data.truth["pii"]["feedback_ids"]) >= 5
    tk = data.tickets.set_index("ticket_id")["body"].map(lambda c: bool(pii.search(c)))
    assert set(tk[tk].index) == set(data.truth["pii"]["ticket_ids"])


def test_tickets_have_consistent_timings_and_status(data):
    tk = data.tickets
    resp = tk["first_response_at"].notna()
    assert (tk.loc[resp, "first_response_at"] >= tk.loc[resp, "created_at"]).all()
    res = tk["resolved_at"].notna()
    assert (tk.loc[res, "resolved_at"] >= tk.loc[res, "first_response_at"]).all()
    assert set(tk.loc[res, "status"]) <= {"solved", "closed"}
    assert set(tk.loc[~res, "status"]) <= {"open", "pending"} and (~res).any()
    assert (tk["contacts"] >= 1).all()
    assert set(tk["channel"]) == {"chat", "phone", "email"}
    assert (tk["touchpoint"] == "support_" + tk["channel"]).all()
    labels = data.truth["text_labels"]["tickets"]
    assert labels["ticket_id"] == tk["ticket_id"].tolist()


def test_reviews_ratings_follow_the_experience(data):
    rv = data.reviews
    assert set(rv["source"]) <= {"trustpilot", "google", "app_store"}
    assert (rv["touchpoint"] == "review_site").all()
    labels = pd.DataFrame(data.truth["text_labels"]["reviews"])
    assert labels["review_id"].tolist() == rv["review_id"].tolist()
    by_sentiment = rv.groupby(labels["sentiment"].to_numpy())["rating"].mean()
    assert by_sentiment["negative"] < by_sentiment["positive"]


def test_orders_look_like_repeat_purchases(data):
    od = data.orders
    per_customer = od.groupby("customer_id").size()
    assert (per_customer > 1).mean() > 0.2
    assert data.truth["clv"]["buyers"] == od["customer_id"].nunique()
    assert set(od["status"]) <= {"completed", "cancelled", "returned", "pending"}
    assert set(od["currency"]) == {"EUR", "GBP", "USD"}
    assert od["order_id"].is_unique and od["ts"].is_monotonic_increasing


def test_write_demo_loads_every_row_once(tmp_path):
    expected = simulate(300, seed=5)
    with cxlens.open(tmp_path / "w.duckdb") as ws:
        seen = []
        first = write_demo(ws, 300, seed=5, progress=lambda done, total: seen.append((done, total)))
        assert first == expected.counts()
        assert ws.counts() == expected.counts()
        assert seen[-1][0] == seen[-1][1] == sum(expected.counts().values())
        again = write_demo(ws, 300, seed=5)
        assert again == {t: 0 for t in TABLE_ORDER}
        truth = ws.sql("SELECT key, value FROM demo_truth")
        stored = {k: json.loads(v) for k, v in zip(truth["key"], truth["value"], strict=True)}
        assert stored == json.loads(json.dumps(expected.truth))
        stored = ws.sql("SELECT * FROM feedback ORDER BY feedback_id")
        want = expected.feedback
        for c in want.columns:
            got, exp = stored[c], want[c]
            if exp.dtype == object:
                got, exp = got.astype(object).fillna("<null>"), exp.fillna("<null>")
            assert got.tolist() == exp.tolist(), c


def test_write_demo_small_counts_match_frames(tmp_path, data):
    with cxlens.open(tmp_path / "w.duckdb") as ws:
        assert write_demo(ws, "small", seed=0) == data.counts()
        assert ws.counts() == data.counts()


def test_orders_recover_the_true_bgnbd_and_gamma_gamma_parameters():
    """Maximum likelihood (Fader, Hardie & Lee 2005) on the orders gets back the planted parameters."""
    from scipy.optimize import minimize
    from scipy.special import betaln, gammaln

    d = simulate(20_000, seed=3)
    g = d.orders.groupby("customer_id")["ts"].agg(["min", "max", "count"])
    week = pd.Timedelta(weeks=1)
    x = (g["count"] - 1).to_numpy(float)
    tx = ((g["max"] - g["min"]) / week).to_numpy()
    big_t = ((pd.Timestamp("2026-06-30 23:59:59") - g["min"]) / week).to_numpy()

    def bgnbd_nll(log_params):
        r, alpha, a, b = np.exp(log_params)
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
        alive = -(r + x) * np.log(alpha + big_t)
        dead = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + tx), -np.inf)
        return -(head + np.logaddexp(alive, dead)).sum()

    fit = np.exp(
        minimize(
            bgnbd_nll,
            np.log([1, 10, 1, 1]),
            method="Nelder-Mead",
            options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6},
        ).x
    )
    true = d.truth["clv"]
    assert fit[0] == pytest.approx(true["r"], rel=0.15)
    assert fit[1] == pytest.approx(true["alpha"], rel=0.2)
    # the mean dropout probability a / (a + b) is well identified
    assert fit[2] / (fit[2] + fit[3]) == pytest.approx(true["a"] / (true["a"] + true["b"]), abs=0.05)

    spend = d.orders.groupby("customer_id")["amount"].agg(["mean", "count"])
    n, m = spend["count"].to_numpy(float), spend["mean"].to_numpy()

    def gg_nll(log_params):
        p, q, v = np.exp(log_params)
        return -(
            gammaln(p * n + q)
            - gammaln(p * n)
            - gammaln(q)
            + q * np.log(v)
            + (p * n - 1) * np.log(m)
            + p * n * np.log(n)
            - (p * n + q) * np.log(n * m + v)
        ).sum()

    p, q, v = np.exp(
        minimize(
            gg_nll, np.log([1, 2, 10]), method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-8}
        ).x
    )
    assert p == pytest.approx(true["p"], rel=0.1)
    # mean spend p * v / (q - 1) is what CLV uses
    assert p * v / (q - 1) == pytest.approx(true["p"] * true["gamma"] / (true["q"] - 1), rel=0.05)
