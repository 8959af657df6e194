"""Jobs of the voice analyses: analyse new text, and assign every analysed verbatim its theme.

* ``voice.analyse`` — :func:`~cxlens.voice.verbatims.analyse_verbatims` on every verbatim not yet
  analysed (PII redaction, language, sentiment); queued again whenever feedback, tickets or reviews
  change.
* ``voice.themes`` — the workspace's theme model (the one a user saved with ``cxlens voice themes
  --save``, else one fitted here on the latest English verbatims and kept until the text grows by a
  quarter) assigns each analysed English verbatim its themes, stored in ``verbatim_themes``.

Pages (the overview's pain points, the journey map's voice columns) then read stored sentiment
and themes instead of scoring text inside a request.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from cxlens.errors import ConfigError
from cxlens.jobs import JobContext, task
from cxlens.schema.ddl import VERBATIM_ANALYSIS_TABLE, VERBATIM_THEMES_TABLE
from cxlens.voice.stored import FIT_LIMIT, load_themes
from cxlens.voice.themes import ThemeExtractor

__all__ = ["AUTO_THEME_SETTING", "analyse_new_text", "assign_themes", "theme_model"]

#: the theme model fitted by the job when the user has not saved one (JSON of ThemeExtractor.to_dict)
AUTO_THEME_SETTING = "voice.theme_model_auto"
#: refit the automatic model when the English verbatims grew by this factor since it was fitted
REFIT_GROWTH = 1.25


@task("voice.analyse", tables=("feedback", "tickets", "reviews"), min_interval=30.0, result="voice.analyse")
def analyse_new_text(ctx: JobContext) -> dict[str, Any]:
    """Analyse the verbatims not analysed yet (incremental: what is stored is kept)."""
    from cxlens.voice.verbatims import analyse_verbatims

    tables = ("feedback", "tickets", "reviews")
    ctx.versions(tables)
    out = analyse_verbatims(ctx.store)
    ctx.save_result(
        "voice.analyse",
        tables=tables,
        meta={"verbatims": len(out), "analysed": int(out.attrs.get("analysed", 0))},
    )
    return {"verbatims": len(out), "analysed": int(out.attrs.get("analysed", 0))}


def theme_model(store: Any) -> tuple[ThemeExtractor | None, str]:
    """The theme model pages use: the user's saved one, else the automatic one (``(None, "none")`` before any)."""
    tx = load_themes(store)
    if tx is not None:
        return tx, "saved"
    data = store.setting(AUTO_THEME_SETTING)
    if data:
        return ThemeExtractor.from_dict(data["model"]), "auto"
    return None, "none"


def _english(store: Any) -> pd.DataFrame:
    return store.read(
        f"SELECT verbatim_id, redacted_text AS text FROM {VERBATIM_ANALYSIS_TABLE} "
        "WHERE language = 'en' AND redacted_text IS NOT NULL ORDER BY analysed_at, verbatim_id"
    )


@task("voice.themes", tables=(VERBATIM_ANALYSIS_TABLE, "settings"), min_interval=120.0, result="voice.themes")
def assign_themes(ctx: JobContext) -> dict[str, Any]:
    """Assign every analysed English verbatim its themes (fitting the automatic model when needed)."""
    store = ctx.store
    tables = (VERBATIM_ANALYSIS_TABLE, "settings")
    ctx.versions(tables)
    en = _english(store)
    tx, source = theme_model(store)
    refit = None
    if source != "saved":
        fitted_on = (store.setting(AUTO_THEME_SETTING) or {}).get("texts", 0)
        if tx is None or len(en) >= REFIT_GROWTH * max(fitted_on, 1):
            sample = en.tail(FIT_LIMIT)
            try:
                tx = ThemeExtractor().fit(sample["text"].tolist())  # k chosen automatically
            except (ConfigError, ValueError) as e:  # too little text for themes: nothing to assign yet
                return {"skipped": str(e)}
            source, refit = "auto", {"model": tx.to_dict(), "texts": len(en)}
    assert tx is not None
    label = f"{source}:{len(tx.themes_)}"
    if len(en):
        a = tx.assign(en["text"].tolist())
        rows = pd.DataFrame(
            {
                "verbatim_id": en["verbatim_id"].astype(str),
                "theme": a["theme"].astype(object),
                "themes": [json.dumps(list(t)) for t in a["themes"]],
                "model": label,
            }
        )
    else:
        rows = pd.DataFrame(columns=["verbatim_id", "theme", "themes", "model"])

    def write(cur: Any) -> None:
        if refit is not None:
            cur.execute(
                "INSERT OR REPLACE INTO settings VALUES (?, ?)", [AUTO_THEME_SETTING, json.dumps(refit, default=str)]
            )
        cur.execute(f"DELETE FROM {VERBATIM_THEMES_TABLE}")
        cur.register("_cx_themes", rows)
        try:
            cur.execute(f"INSERT INTO {VERBATIM_THEMES_TABLE} SELECT verbatim_id, theme, themes, model FROM _cx_themes")
        finally:
            cur.unregister("_cx_themes")

    ctx.write(write, changes=[VERBATIM_THEMES_TABLE, *(["settings"] if refit else [])])
    # mean sentiment of the clauses that name each theme, over the latest texts (the themes page shows it)
    from cxlens.voice.aspects import aspect_sentiment

    latest = en.tail(FIT_LIMIT)
    aspects = aspect_sentiment(latest["text"].fillna("").tolist(), extractor=tx) if len(latest) else pd.DataFrame()
    means = aspects.groupby("theme")["score"].mean().round(6).to_dict() if len(aspects) else {}
    meta = {"model": source, "themes": len(tx.themes_), "texts": len(en), "aspect_scores": means,
            "aspect_texts": len(latest)}  # fmt: skip
    ctx.save_result("voice.themes", tables=tables, meta=meta)
    return {"assigned": len(rows), "model": source}
