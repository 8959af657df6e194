"""Theme summaries, emerging themes and pain points, checked against hand and SciPy computations."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxlens.errors import ConfigError, SchemaError
from cxlens.ingest import simulate
from cxlens.voice.painpoints import emerging_themes, explain_effect, pain_points, theme_summary
from cxlens.voice.themes import ThemeExtractor


def _frame(counts: dict[str, dict[str, int]]) -> pd.DataFrame:
    """Verbatims with ``counts[month][theme]`` rows each; sentiment −1 for "delay", +1 otherwise."""
    rows = []
    for month, by_theme in counts.items():
        for theme, n in by_theme.items():
            for i in range(n):
                rows.append(
                    {
                        "text": f"{theme} {i}",
                        "ts": pd.Timestamp(f"{month}-10"),
                        "theme": theme,
                        "sentiment": -1.0 if theme == "delay" else 1.0,
                    }
                )
    return pd.DataFrame(rows)


def test_summary_sizes_shares_sentiment_and_counts():
    df = _frame({"2025-01": {"delay": 5, "staff": 95}, "2025-02": {"delay": 30, "staff": 70}})
    s = theme_summary(df).set_index("theme")
    assert s.loc["delay", "size"] == 35 and s.loc["staff", "size"] == 165
    assert s.loc["delay", "share"] == pytest.approx(35 / 200)
    assert s.loc["delay", "negative_share"] == 1.0 and s.loc["staff", "negative_share"] == 0.0
    assert s.loc["delay", "mean_sentiment"] == -1.0
    assert s.loc["delay", "counts"] == {"2025-01": 5, "2025-02": 30}
    assert s.index.tolist() == ["staff", "delay"]  # largest first


def test_growth_test_is_the_pooled_two_proportion_z_test():
    df = _frame({"2025-01": {"delay": 5, "staff": 95}, "2025-02": {"delay": 30, "staff": 70}})
    s = theme_summary(df).set_index("theme")
    pooled = 35 / 200
    z = (0.30 - 0.05) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    assert s.loc["delay", "z"] == pytest.approx(z)
    assert s.loc["delay", "p_value"] == pytest.approx(2 * stats.norm.sf(z))
    assert s.loc["delay", "growing"] and not s.loc["staff", "growing"]
    assert (s.loc["delay", "period"], s.loc["delay", "count"], s.loc["delay", "previous"]) == ("2025-02", 30, 5)


def test_emerging_themes_keeps_only_significant_growth_with_enough_volume():
    df = _frame(
        {
            "2025-01": {"delay": 5, "staff": 90, "bug": 1, "price": 4},
            "2025-02": {"delay": 30, "staff": 62, "bug": 4, "price": 4},
        }
    )
    e = emerging_themes(df, min_count=5)
    assert e["theme"].tolist() == ["delay"]
    assert emerging_themes(df, min_count=50).empty


def test_emerging_themes_at_a_chosen_period():
    df = _frame(
        {
            "2025-01": {"delay": 5, "staff": 95},
            "2025-02": {"delay": 30, "staff": 70},
            "2025-03": {"delay": 30, "staff": 70},
        }
    )
    assert emerging_themes(df).empty  # March vs February: no change
    e = emerging_themes(df, at="2025-02")
    assert e["theme"].tolist() == ["delay"] and e.loc[0, "previous"] == 5
    with pytest.raises(ConfigError, match="at='2024-12' has no verbatims"):
        emerging_themes(df, at="2024-12")


def test_summary_accepts_sentiment_labels_and_weekly_periods():
    df = pd.DataFrame(
        {
            "text": ["a", "b", "c", "d"],
            "ts": pd.to_datetime(["2025-01-06", "2025-01-07", "2025-01-14", "2025-01-15"]),
            "theme": ["x", "x", "x", "y"],
            "sentiment": ["negative", "positive", "mixed", "negative"],
        }
    )
    s = theme_summary(df, period="week").set_index("theme")
    assert s.loc["x", "mean_sentiment"] == pytest.approx(0.0)
    assert s.loc["x", "negative_share"] == pytest.approx(1 / 3)
    assert list(s.loc["x", "counts"].values()) == [2, 1]


def test_missing_columns_raise_schema_errors():
    with pytest.raises(SchemaError, match="expected a 'text' column"):
        theme_summary(pd.DataFrame({"body": ["x"]}))
    with pytest.raises(SchemaError, match="no 'theme' column"):
        theme_summary(pd.DataFrame({"text": ["x"], "sentiment": [0.1]}))
    with pytest.raises(SchemaError, match="'stage'"):
        pain_points(pd.DataFrame({"text": ["x"], "theme": ["a"], "sentiment": [-1.0]}))


def _scored() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    theme = rng.choice(["late", "rude", "fine"], size=n, p=[0.3, 0.2, 0.5])
    score = np.clip(np.round(4.2 - 1.5 * (theme == "late") - 0.8 * (theme == "rude") + rng.normal(0, 0.8, n)), 1, 5)
    return pd.DataFrame(
        {
            "text": [f"{t} text" for t in theme],
            "stage": "service",
            "touchpoint": "delivery",
            "metric": "csat",
            "score": score,
            "theme": theme,
            "sentiment": np.where(score <= 2, -0.8, 0.6),
        }
    )


def test_pain_point_effect_is_welch_difference_with_interval():
    df = _scored()
    p = pain_points(df, top=2)
    assert p["theme"].tolist() == ["late", "rude"]  # most negative verbatims first
    row = p.iloc[0]
    late = df["theme"] == "late"
    assert row["negative"] == int((late & (df["score"] <= 2)).sum())
    assert row["n"] == int(late.sum())
    res = stats.ttest_ind(df.loc[late, "score"], df.loc[~late, "score"], equal_var=False)
    ci = res.confidence_interval(0.95)
    assert row["effect"] == pytest.approx(df.loc[late, "score"].mean() - df.loc[~late, "score"].mean())
    assert (row["low"], row["high"]) == pytest.approx((ci.low, ci.high))
    assert row["p_value"] == pytest.approx(res.pvalue)
    assert row["high"] < 0  # the planted effect is −1.5 points
    a, b = df.loc[late, "score"].mean(), df.loc[~late, "score"].mean()
    expected = (
        f"CSAT {a:.2f} when the theme is mentioned vs {b:.2f} when not: {a - b:+.2f} "
        f"(95% CI {ci.low:+.2f} to {ci.high:+.2f}); lower when present"
    ).replace("-", "−")
    assert row["explanation"] == expected


def test_effect_explanation_names_the_sign_and_a_positive_effect_of_a_pain_point():
    assert explain_effect("csat", 4.5, 4.0, 0.2, 0.8).endswith(
        "+0.50 (95% CI +0.20 to +0.80); higher when present: those who mention it still score above the rest"
    )
    assert explain_effect("nps", -20.0, 10.0, -45.5, -14.5) == (
        "NPS −20 when the theme is mentioned vs +10 when not: −30 points (95% CI −46 to −14); lower when present"
    )
    assert explain_effect("csat", 4.0, float("nan"), float("nan"), float("nan")).startswith("no score to compare")


def test_pain_point_nps_effect_is_in_nps_points():
    scores = [10, 9, 0, 3, 10, 10, 9, 8, 7, 2]
    theme = ["bad", "bad", "bad", "bad", "ok", "ok", "ok", "ok", "ok", "ok"]
    df = pd.DataFrame(
        {"text": theme, "stage": "loyalty", "metric": "nps", "score": scores, "theme": theme, "sentiment": -0.5}
    )
    row = pain_points(df, by="stage").set_index("theme").loc["bad"]
    # with: 2 promoters, 2 detractors of 4 → 0; without: 3 promoters, 1 detractor of 6 → 33.3
    assert row["score_with"] == pytest.approx(0.0)
    assert row["score_without"] == pytest.approx(100 * 2 / 6)
    var_with = 100**2 * (1.0 - 0.0) / 4
    var_without = 100**2 * ((4 / 6) - (2 / 6) ** 2) / 6
    half = 1.96 * math.sqrt(var_with + var_without)
    assert (row["low"], row["high"]) == pytest.approx((-100 * 2 / 6 - half, -100 * 2 / 6 + half))


def test_multi_label_membership_counts_secondary_themes():
    df = pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "stage": "s",
            "theme": ["late", "rude", "rude"],
            "themes": [["late", "rude"], ["rude"], ["rude"]],
            "sentiment": [-1.0, -1.0, 0.5],
        }
    )
    p = pain_points(df, by="stage").set_index("theme")
    assert p.loc["rude", "n"] == 3 and p.loc["rude", "negative"] == 2 and p.loc["late", "negative"] == 1


@pytest.fixture(scope="module")
def demo_verbatims():
    f = simulate("small", seed=0).feedback
    f = f[f["comment"].notna()].rename(columns={"comment": "text"}).reset_index(drop=True)
    props = f["properties"].map(json.loads)
    f["theme"] = props.map(lambda p: p["theme"])
    f["sentiment"] = props.map(lambda p: p["sentiment"])
    return f


def test_demo_delivery_pain_points_are_the_planted_delivery_problems(demo_verbatims):
    p = pain_points(demo_verbatims)
    delivery = p[(p["touchpoint"] == "delivery") & (p["metric"] == "csat")]
    assert delivery["theme"].iloc[0] == "delivery_delay"
    assert set(delivery["theme"]) >= {"delivery_delay", "damaged_packaging"}
    bad = delivery.set_index("theme").loc[["delivery_delay", "damaged_packaging"]]
    assert (bad["high"] < 0).all()  # both lower delivery CSAT, interval excludes 0


def test_extractor_assigns_themes_when_absent(demo_verbatims):
    df = demo_verbatims.drop(columns=["theme"])
    tx = ThemeExtractor(n_themes=12, rules={"Delivery delay": ["late", r"\bdelay(ed)?\b"]}).fit(df["text"])
    s = theme_summary(df, tx)
    assert s["size"].sum() == len(df)
    assert s.set_index("theme").loc["Delivery delay", "name"] == "Delivery delay"
    assert s.set_index("theme").loc["Delivery delay", "negative_share"] > 0.6
    p = pain_points(df, tx)
    top = p[(p["touchpoint"] == "delivery") & (p["metric"] == "csat")].iloc[0]
    assert top["effect"] < 0 and top["high"] < 0


def test_sentiment_is_scored_by_the_shipped_model_when_absent():
    df = pd.DataFrame({"text": ["terrible, never again", "I love it"], "theme": ["a", "b"]})
    s = theme_summary(df).set_index("theme")
    assert s.loc["a", "negative_share"] == 1.0 and s.loc["b", "negative_share"] == 0.0


def test_sentiment_score_column_of_analysed_verbatims_is_used_and_missing_scores_are_not_negative():
    df = pd.DataFrame({"text": ["a", "b", "c"], "theme": ["x", "x", "x"], "sentiment_score": [-0.5, 0.25, None]})
    s = theme_summary(df).set_index("theme")
    assert s.loc["x", "mean_sentiment"] == pytest.approx(-0.125)
    assert s.loc["x", "negative_share"] == pytest.approx(1 / 3)


# -- the "other" group: verbatims without a theme ----------------------------------------------------
def _with_unthemed() -> pd.DataFrame:
    """Six CSAT answers at one touchpoint: three about "late", three with no theme (None, NaN, "other")."""
    return pd.DataFrame(
        {
            "text": ["late", "late again", "so late", "meh", "bad", "awful"],
            "touchpoint": "delivery",
            "metric": "csat",
            "score": [4.0, 5.0, 3.0, 1.0, 2.0, 2.0],
            "theme": ["late", "late", "late", None, np.nan, "other"],
            "sentiment": [-0.5, 0.2, -0.1, -0.9, -0.4, 0.3],
        }
    )


def test_summary_lists_the_unthemed_as_the_other_group_last_with_shares_of_all():
    s = theme_summary(_with_unthemed())
    assert s["theme"].tolist() == ["late", "other"]
    other = s.iloc[-1]
    assert (other["name"], bool(other["issue"]), other["size"]) == ("Other (no theme)", False, 3)
    assert other["share"] == pytest.approx(0.5) and s.iloc[0]["share"] == pytest.approx(0.5)
    assert other["mean_sentiment"] == pytest.approx((-0.9 - 0.4 + 0.3) / 3)
    assert other["negative_share"] == pytest.approx(2 / 3)
    # other=False: as before, only themes, shares of the themed verbatims
    s = theme_summary(_with_unthemed(), other=False)
    assert s["theme"].tolist() == ["late"] and s["share"].tolist() == [1.0]


def test_other_group_stays_last_even_when_largest():
    df = _with_unthemed()
    df.loc[0, "theme"] = None
    s = theme_summary(df)
    assert s["theme"].tolist() == ["late", "other"] and s["size"].tolist() == [2, 4]


def test_pain_points_give_the_other_group_its_csat_effect_with_the_welch_interval():
    p = pain_points(_with_unthemed(), by="touchpoint", top=3)
    assert p["theme"].tolist() == ["late", "other"] and p["issue"].tolist() == [True, False]
    row = p.iloc[-1]
    assert (row["name"], row["n"], row["negative"]) == ("Other (no theme)", 3, 2)
    assert row["share"] == pytest.approx(0.5) and row["negative_share"] == pytest.approx(2 / 3)
    with_, without = np.array([1.0, 2.0, 2.0]), np.array([4.0, 5.0, 3.0])
    ci = stats.ttest_ind(with_, without, equal_var=False).confidence_interval(0.95)
    assert row["effect"] == pytest.approx(with_.mean() - without.mean())
    assert (row["low"], row["high"]) == pytest.approx((ci.low, ci.high))
    assert row["explanation"].startswith("CSAT 1.67 without a theme vs 4.00 with one: −2.33")
    # not counted in top: the one theme stays, other comes after it
    assert pain_points(_with_unthemed(), by="touchpoint", top=1)["theme"].tolist() == ["late", "other"]
    assert "other" not in set(pain_points(_with_unthemed(), by="touchpoint", other=False)["theme"])


def test_emerging_themes_never_lists_the_other_group():
    df = _frame({"2025-01": {"delay": 5, "staff": 95}, "2025-02": {"delay": 30, "staff": 70}})
    df.loc[df["theme"].eq("delay"), "theme"] = None  # the growing group has no theme now
    assert theme_summary(df).set_index("theme").loc["other", "growing"]
    assert emerging_themes(df).empty


def test_rules_and_names_cannot_take_the_reserved_other_group():
    texts = ["late parcel again", "parcel late", "very late parcel", "rude agent", "agent was rude", "rude staff"]
    with pytest.raises(ConfigError, match="reserved for the texts without a theme"):
        ThemeExtractor(n_themes=2, rules={"Other": ["late"]}).fit(texts)
    tx = ThemeExtractor(n_themes=2, method="nmf", min_df=1).fit(texts)
    with pytest.raises(ConfigError, match="reserved for the texts without a theme"):
        tx.rename("t0", "Other (no theme)")
