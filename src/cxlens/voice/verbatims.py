"""The unified verbatims view: every piece of customer text in one tidy frame, redacted.

:func:`verbatims` unions, **in the backend** (one Ibis expression), the non-empty text of

- feedback comments: source ``feedback:<metric>``, id ``feedback:<feedback_id>``, score = the answer;
- tickets (subject and body): source ``ticket``, id ``ticket:<ticket_id>``, no score;
- reviews (title and body): source ``review:<source>``, id ``review:<review_id>``, score = rating,
  channel from ``properties.channel`` (``social`` for imported tweets);
- interview transcripts, the customer's turns only: source ``interview``, id ``interview:<turn_id>``,
  channel ``interview`` (:mod:`cxlens.interviews`);

with a missing stage (and channel) filled from the workspace journey by touchpoint. Date range,
``filters`` (any dimension of :func:`cxlens.metrics.common.prepare`: touchpoint, channel, stage,
source, metric, customer segment, ``traits.<key>``) and ``sources`` are pushed to the backend too;
only the matching rows come back, and are then redacted (:mod:`cxlens.voice.redact`) and
language-tagged (:mod:`cxlens.voice.language`) in Python.

:func:`analyse_verbatims` adds sentiment, incrementally: results are kept in the workspace
table ``verbatim_analysis`` and a re-run analyses only verbatims not seen before. Sentiment is
scored on the redacted text, and only where the text is English (or too short to tell, plain
ASCII and from a source whose other texts are mostly English); other languages get no score and ``sentiment_skipped = 'not_english'`` instead of a
silently wrong one.

Examples
--------
>>> import cxlens
>>> from cxlens.ingest import write_demo
>>> ws = cxlens.open(":memory:")
>>> _ = write_demo(ws, 300, seed=1)
>>> v = verbatims(ws, sources=["ticket"])
>>> sorted(set(v["source"]))
['ticket']
>>> a = analyse_verbatims(ws, sources=["ticket"])
>>> a.attrs["analysed"] == len(v), analyse_verbatims(ws, sources=["ticket"]).attrs["analysed"]
(True, 0)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from cxlens.errors import ConfigError, WorkspaceError
from cxlens.metrics.common import DateLike, backend_name, json_text, prepare
from cxlens.schema.ddl import VERBATIM_ANALYSIS_TABLE, VERBATIM_THEMES_TABLE
from cxlens.store.segments import restrict_to_segment
from cxlens.voice.language import detect_language, is_english
from cxlens.voice.redact import redact_series

if TYPE_CHECKING:
    from cxlens.store import Store
    from cxlens.voice.sentiment import SentimentAnalyzer

__all__ = [
    "ANALYSIS_TABLE",
    "KINDS",
    "VERBATIM_COLUMNS",
    "analyse_verbatims",
    "analysed_verbatims",
    "verbatim_expression",
    "verbatims",
]

#: source kinds and the canonical table each comes from
KINDS = {"feedback": "feedback", "ticket": "tickets", "review": "reviews", "interview": "interview_turns"}
VERBATIM_COLUMNS = [
    "verbatim_id",
    "source",
    "customer_id",
    "ts",
    "text",
    "touchpoint",
    "channel",
    "stage",
    "score",
    "metric",
]
ANALYSIS_TABLE = VERBATIM_ANALYSIS_TABLE
#: Workspace setting: keep the original (unredacted) text next to the redacted one; default False.
KEEP_ORIGINALS = "voice.keep_originals"


def keep_originals(ws: Store) -> bool:
    """True when the workspace allows keeping original texts (setting ``voice.keep_originals``)."""
    return ws.setting(KEEP_ORIGINALS, False) is True


_S = "string"


def _null(kind: str) -> ibis.Value:
    return ibis.null().cast(kind)


def _join_text(a: ibis.Value, b: ibis.Value) -> ibis.Value:
    """``a + newline + b`` where both exist, else whichever exists (blanks count as missing)."""
    a = a.nullif("")
    b = b.nullif("")
    return ibis.coalesce(a + "\n" + b, a, b)


def _nonblank(text: ibis.Value) -> ibis.Value:
    return text.notnull() & (text.strip() != "")


def kind_of(source: str) -> str:
    kind = source.split(":", 1)[0]
    if kind not in KINDS:
        raise ConfigError(
            f"unknown verbatim source {source!r}; expected one of {', '.join(KINDS)} or 'kind:name' "
            "such as 'feedback:nps' or 'review:twitter'"
        )
    return kind


def verbatim_expression(ws: Store, kinds: Iterable[str]) -> ibis.Table:
    parts = []
    for kind in kinds:
        if kind == "interview" and not ws.has_table(KINDS[kind]):
            continue  # a backend without interview transcripts (cxlens.connect over canonical tables)
        t = ws.table(KINDS[kind])
        if kind == "interview":  # the customer's own turns only (cxlens.interviews): the interviewer's are not
            part = t.filter((t.role == "customer") & _nonblank(t.text)).select(
                verbatim_id=("interview:" + t.turn_id).cast(_S),
                source=ibis.literal("interview"),
                customer_id=t.customer_id,
                ts=t.ts.cast("timestamp"),
                text=t.text.cast(_S),
                touchpoint=_null(_S),
                channel=ibis.literal("interview"),
                stage=_null(_S),
                score=_null("float64"),
                metric=_null(_S),
            )
        elif kind == "feedback":
            part = t.filter(_nonblank(t.comment)).select(
                verbatim_id="feedback:" + t.feedback_id,
                source="feedback:" + t.metric,
                customer_id=t.customer_id,
                ts=t.ts,
                text=t.comment,
                touchpoint=t.touchpoint,
                channel=t.channel,
                stage=t.stage,
                score=t.score.cast("float64"),
                metric=t.metric,
            )
        elif kind == "ticket":
            text = _join_text(t.subject, t.body)
            part = t.filter(_nonblank(text)).select(
                verbatim_id="ticket:" + t.ticket_id,
                source=ibis.literal("ticket"),
                customer_id=t.customer_id,
                ts=t.created_at,
                text=text,
                touchpoint=t.touchpoint,
                channel=t.channel,
                stage=_null(_S),
                score=_null("float64"),
                metric=_null(_S),
            )
        else:
            text = _join_text(t.title, t.body)
            part = t.filter(_nonblank(text)).select(
                verbatim_id="review:" + t.review_id,
                source="review:" + t.source.fill_null("unknown"),
                customer_id=t.customer_id,
                ts=t.ts,
                text=text,
                touchpoint=t.touchpoint,
                channel=json_text(t.properties, "channel", backend_name(t)).cast(_S),
                stage=_null(_S),
                score=t.rating.cast("float64"),
                metric=ibis.ifelse(t.rating.notnull(), ibis.literal("rating"), _null(_S)),
            )
        parts.append(part.cast({"ts": "timestamp", "customer_id": _S, "touchpoint": _S, "channel": _S}))
    if not parts:
        raise ConfigError(
            "this workspace has no interview transcripts; import them with `cxlens import interviews DIR`"
        )
    u = parts[0] if len(parts) == 1 else ibis.union(*parts)
    j = ws.journey
    stage_of, channel_of = j.stage_of(), j.channel_of()
    if stage_of:
        u = u.mutate(stage=ibis.coalesce(u.stage, u.touchpoint.substitute(stage_of, else_=_null(_S))))
    if channel_of:
        u = u.mutate(channel=ibis.coalesce(u.channel, u.touchpoint.substitute(channel_of, else_=_null(_S))))
    return u


def verbatims(
    ws: Store,
    *,
    start: DateLike = None,
    end: DateLike = None,
    filters: Mapping[str, Any] | None = None,
    sources: Iterable[str] | None = None,
    redacted: bool = True,
    language: bool = True,
) -> pd.DataFrame:
    """Every verbatim (feedback comment, ticket, review) matching the filters, one row each.

    Parameters
    ----------
    ws
        The workspace (any backend).
    start, end
        Keep verbatims with ``start <= ts < end``.
    filters
        ``{dimension: value | [values]}``: touchpoint, channel, stage, source, metric, or a customer
        dimension (segment, plan, country, ``traits.<key>``).
    sources
        Kinds (``feedback``, ``ticket``, ``review``) or exact sources (``feedback:nps``,
        ``review:twitter``); ``None`` for all.
    redacted
        Replace e-mail addresses, phone and card numbers and street addresses in ``text`` by
        tokens (``[EMAIL]``…). ``redacted=False`` (the original text) is for library callers; the
        analysis table keeps originals only where :func:`keep_originals` allows it.
    language
        Add ``language`` (ISO 639-1 or None) and ``is_english`` (None where unknown).

    Returns
    -------
    DataFrame
        verbatim_id, source, customer_id, ts, text, touchpoint, channel, stage, score (the raw
        answer or rating), metric (what ``score`` measures: nps, csat, rating…), language,
        is_english; ordered by ts then verbatim_id.

    Examples
    --------
    >>> import cxlens, pandas as pd
    >>> ws = cxlens.open(":memory:")
    >>> rows = pd.DataFrame({"ts": ["2024-05-01"], "metric": ["nps"], "score": [3],
    ...                      "comment": ["Call me on 07700 900123, the router never arrived"]})
    >>> _ = ws.load("feedback", rows)
    >>> verbatims(ws)[["source", "text", "language"]].values.tolist()
    [['feedback:nps', 'Call me on [PHONE], the router never arrived', 'en']]
    """
    wanted = list(sources) if sources is not None else list(KINDS)
    if not wanted:
        raise ConfigError("sources is empty; expected kinds such as ['feedback', 'review'] or None for all")
    kinds = list(dict.fromkeys(kind_of(s) for s in wanted))
    u = verbatim_expression(ws, kinds)
    if sources is not None:
        pred = None
        for s in wanted:
            p = (u.source == s) | u.source.startswith(s + ":") if ":" not in s else u.source == s
            pred = p if pred is None else pred | p
        u = u.filter(pred)
    try:
        customers = ws.table("customers")
    except Exception:  # pragma: no cover - backends without customers
        customers = None
    t, _ = prepare(u, customers=customers, start=start, end=end, filters=filters, what="verbatims")
    df = ws.read(t.select(*VERBATIM_COLUMNS).order_by(["ts", "verbatim_id"]))
    df = df[VERBATIM_COLUMNS].reset_index(drop=True)
    for c in ("verbatim_id", "source", "customer_id", "text", "touchpoint", "channel", "stage", "metric"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    if language:
        langs = detect_language(df["text"].tolist())
        df["language"] = pd.Series(langs, index=df.index, dtype=object)
        df["is_english"] = pd.Series(is_english(langs), index=df.index, dtype=object)
    if redacted:
        df["text"] = redact_series(df["text"])
    return df


def analysed_verbatims(
    ws: Any,
    *,
    start: DateLike = None,
    end: DateLike = None,
    filters: Mapping[str, Any] | None = None,
    segment: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The English verbatims matching the filters that the stored analysis has scored, with what it stored.

    Reads only stored results (``verbatim_analysis`` and ``verbatim_themes``, written by the
    ``voice.analyse`` and ``voice.themes`` jobs, :mod:`cxlens.voice.tasks`): nothing is detected,
    redacted or scored here, so pages can afford it. Verbatims not analysed yet are left out.

    Returns
    -------
    DataFrame
        :data:`VERBATIM_COLUMNS` with ``text`` redacted, plus ``language``, ``sentiment`` (score in
        [-1, 1]), ``theme`` (primary theme id or None) and ``themes`` (list of ids) and
        ``theme_assigned`` (True once the themes job has assigned the verbatim: a None ``theme`` is
        then the "other" group, texts without a theme, not a verbatim still waiting); the latest
        ``limit`` rows, ordered by ts then verbatim_id.
    """
    u = restrict_to_segment(ws, verbatim_expression(ws, list(KINDS)), segment)
    try:
        customers = ws.table("customers")
    except Exception:  # pragma: no cover - backends without customers
        customers = None
    t, _ = prepare(u, customers=customers, start=start, end=end, filters=filters, what="verbatims")
    a = ws.table(ANALYSIS_TABLE)
    a = a.filter(a.sentiment_score.notnull(), a.language == "en").select(
        _aid=a.verbatim_id, language=a.language, sentiment=a.sentiment_score, _red=a.redacted_text
    )
    th = ws.table(VERBATIM_THEMES_TABLE)
    th = th.select(_tid=th.verbatim_id, theme=th.theme, _themes=th.themes)
    j = t.select(*VERBATIM_COLUMNS).join(a, t.verbatim_id == a._aid)
    j = j.left_join(th, j.verbatim_id == th._tid)
    j = j.select(*[c for c in VERBATIM_COLUMNS if c != "text"], "language", "sentiment", "theme", "_themes",
                 text=j._red, theme_assigned=j._tid.notnull())  # fmt: skip
    j = j.order_by([ibis.desc("ts"), ibis.desc("verbatim_id")])
    df = ws.read(j.limit(limit) if limit else j)
    df = df.iloc[::-1].reset_index(drop=True)
    for c in ("verbatim_id", "source", "customer_id", "text", "touchpoint", "channel", "stage", "metric", "theme"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    df["themes"] = [json.loads(x) if isinstance(x, str) else [] for x in df.pop("_themes")]
    return df


def _model_name(model: Any, default: bool) -> str:
    if default:
        from cxlens.voice.sentiment import DEFAULT_WEIGHTS

        return f"{getattr(model, 'name', 'cxlens')}:{DEFAULT_WEIGHTS.stem}"
    return str(getattr(model, "name", type(model).__name__))


def _scorable(texts: pd.Series, langs: list[str | None], sources: pd.Series, prior: pd.Series) -> np.ndarray:
    """English text, or text too short to tell that is plain ASCII from a mostly English source.

    "Great service" in an English NPS survey is scored; "Otimo" among Portuguese Olist reviews is
    not. ``prior`` is the share of English among the source's texts of known language (sources
    without any count as English).
    """
    lang = pd.Series(langs, index=texts.index, dtype=object)
    known = lang.notna()
    english_source = sources.map(prior).fillna(1.0).ge(0.5)
    ascii_only = texts.astype("string").str.fullmatch(r"[\x00-\x7f]*").fillna(False)
    return (lang.eq("en") | (~known & ascii_only & english_source)).to_numpy(dtype=bool)


def _english_share(sources: pd.Series, langs: pd.Series) -> pd.Series:
    known = langs.notna()
    return langs[known].eq("en").groupby(sources[known].to_numpy()).mean()


def analyse_verbatims(
    ws: Store,
    *,
    start: DateLike = None,
    end: DateLike = None,
    filters: Mapping[str, Any] | None = None,
    sources: Iterable[str] | None = None,
    model: SentimentAnalyzer | None = None,
) -> pd.DataFrame:
    """Verbatims with language and sentiment, analysing only those not analysed before.

    New verbatims (ids absent from ``verbatim_analysis``) are redacted, language-tagged and —
    where English — scored in one batch by ``model`` (default: the shipped
    :func:`~cxlens.voice.sentiment.default_model`); the results are added to
    ``verbatim_analysis`` in one transaction; the original text is stored too only while the
    workspace setting ``voice.keep_originals`` is true (and erased when it is not). Earlier results are reused as stored, whatever
    model made them (column ``model`` says which).

    Returns
    -------
    DataFrame
        The columns of :func:`verbatims` (``text`` redacted) plus sentiment_score (in [-1, 1]),
        sentiment_label (negative, neutral, positive, mixed), sentiment_skipped
        (``'not_english'`` where the text is in another language, ``'unknown_language'`` where it is
        too short to tell and not plain ASCII or from a mostly non-English source, else None), model and
        analysed_at; plus ``original_text`` (the unredacted text stored by the analysis, None for
        verbatims analysed while it was not allowed) when the workspace setting
        ``voice.keep_originals`` is true. ``attrs["analysed"]`` counts verbatims analysed by this call and
        ``attrs["scored"]`` those of them given a sentiment.
    """
    if ws.read_only:
        raise WorkspaceError(
            f"workspace {ws.path!r} is open read-only; analyse_verbatims stores its results in "
            f"{ANALYSIS_TABLE!r}: open it with cxlens.open(path) (writable)"
        )
    v = verbatims(ws, start=start, end=end, filters=filters, sources=sources, redacted=False, language=False)
    default = model is None
    if model is None:
        from cxlens.voice.sentiment import default_model

        model = default_model()
    name = _model_name(model, default)
    keep = keep_originals(ws)
    ids = pa.table({"verbatim_id": pa.array(v["verbatim_id"].tolist(), pa.string())})
    if not keep and ws.scalar(f"SELECT count(*) FROM {ANALYSIS_TABLE} WHERE original_text IS NOT NULL"):
        with ws.transaction(changes=[ANALYSIS_TABLE]) as cur:  # the setting was withdrawn: forget the originals
            cur.execute(f"UPDATE {ANALYSIS_TABLE} SET original_text = NULL WHERE original_text IS NOT NULL")
    seen = ws.read(
        f"SELECT i.verbatim_id, a.language FROM _cx_verbatim_ids i JOIN {ANALYSIS_TABLE} a USING (verbatim_id)",
        tables={"_cx_verbatim_ids": ids},
    )
    new = v[~v["verbatim_id"].isin(set(seen["verbatim_id"]))]
    scored = 0
    if len(new):
        texts = new["text"]
        langs = detect_language(texts.tolist())
        red = redact_series(texts)
        # languages already stored for this selection, plus the new ones, per source
        old = v[["verbatim_id", "source"]].merge(seen, on="verbatim_id")
        prior = _english_share(
            pd.concat([old["source"], new["source"]], ignore_index=True),
            pd.concat([old["language"].astype(object), pd.Series(langs, dtype=object)], ignore_index=True),
        )
        mask = _scorable(texts, langs, new["source"], prior)
        score = np.full(len(new), np.nan)
        label = np.full(len(new), None, dtype=object)
        if mask.any():
            s = model.score(red[mask].tolist())
            score[mask] = s["score"].to_numpy(dtype=float)
            label[mask] = s["label"].to_numpy(dtype=object)
        scored = int(mask.sum())
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rows = pa.table(
            {
                "verbatim_id": pa.array(new["verbatim_id"].tolist(), pa.string()),
                "language": pa.array(langs, pa.string()),
                "sentiment_score": pa.array(score, pa.float64(), mask=np.isnan(score)),
                "sentiment_label": pa.array(label.tolist(), pa.string()),
                "redacted_text": pa.array(red.tolist(), pa.string()),
                "analysed_at": pa.array([now] * len(new), pa.timestamp("us")),
                "model": pa.array([name] * len(new), pa.string()),
                # the original only where the workspace allows it (voice.keep_originals)
                "original_text": pa.array(texts.tolist() if keep else [None] * len(new), pa.string()),
            }
        )
        with ws.transaction(changes=[ANALYSIS_TABLE]) as cur:
            cur.register("_cx_verbatim_new", rows)
            try:
                cur.execute(
                    f"INSERT INTO {ANALYSIS_TABLE} BY NAME SELECT * FROM _cx_verbatim_new n "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {ANALYSIS_TABLE} a WHERE a.verbatim_id = n.verbatim_id)"
                )
            finally:
                cur.unregister("_cx_verbatim_new")
    stored = ws.read(
        f"SELECT a.* FROM {ANALYSIS_TABLE} a JOIN _cx_verbatim_ids i USING (verbatim_id)",
        tables={"_cx_verbatim_ids": ids},
    )
    out = v.drop(columns="text").merge(stored, on="verbatim_id", how="left", validate="one_to_one")
    out = out.rename(columns={"redacted_text": "text"})
    for c in ("text", "language", "sentiment_label", "model", "original_text"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    out["is_english"] = pd.Series(is_english(out["language"]), index=out.index, dtype=object)
    unscored = out["sentiment_label"].isna().to_numpy()
    known = out["language"].notna().to_numpy()
    out["sentiment_skipped"] = pd.Series(
        np.select([unscored & known, unscored & ~known], ["not_english", "unknown_language"], ""),
        index=out.index,
        dtype=object,
    ).replace("", None)
    cols = [*VERBATIM_COLUMNS, "language", "is_english", "sentiment_score", "sentiment_label", "sentiment_skipped"]
    out = out[[*cols, "model", "analysed_at", *(["original_text"] if keep else [])]]
    out.attrs["analysed"] = len(new)
    out.attrs["scored"] = scored
    return out
