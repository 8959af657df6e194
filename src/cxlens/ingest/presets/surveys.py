"""Survey tools: Qualtrics, SurveyMonkey, Typeform and Delighted exports → ``feedback``.

Each response becomes one feedback row: the score question is found by its wording and values
(:func:`~cxlens.ingest.presets.base.find_score`), the comment by its wording, the response id is
the feedback id (re-importing adds nothing) and the other answers go to ``properties``.
Respondent PII (IP address, e-mail, names, location) is never copied into ``properties``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from cxlens.errors import ImportFileError, ParameterError
from cxlens.ingest.load import ImportReport
from cxlens.ingest.presets.base import (
    excluded_rows,
    find_comment,
    find_score,
    leading_number,
    load_tables,
    preset,
    properties,
    read_export,
    require_columns,
    text,
)
from cxlens.ingest.spec import ImportSpec

__all__: list[str] = []

_PII = re.compile(r"ip ?address|email|e-mail|first ?name|last ?name|recipient|latitude|longitude|phone", re.I)


def _feedback(frame: pd.DataFrame, *, fid: pd.Series, ts: pd.Series, score_col: str, metric: str,
              comment_col: str | None, survey: str, used: set[str], customer: pd.Series | None = None,
              channel: Any = None) -> pd.DataFrame:  # fmt: skip
    out = pd.DataFrame(index=frame.index)
    out["feedback_id"] = fid
    out["ts"] = ts
    out["metric"] = metric
    out["score"] = leading_number(frame[score_col])
    out["comment"] = text(frame[comment_col]) if comment_col else None
    out["survey_id"] = survey
    if customer is not None:
        out["customer_id"] = customer
    if channel is not None:
        out["channel"] = channel
    rest = [c for c in frame.columns if c not in used | {score_col, comment_col} and not _PII.search(str(c))]
    out["properties"] = properties(frame, rest)
    return out


# -- Qualtrics ------------------------------------------------------------------------------------------
@preset("qualtrics", ("feedback",), "Qualtrics response export (CSV, three header rows)")
def qualtrics(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Qualtrics 'Export Data → CSV' (numeric values or choice text).

    Row 1 holds the column ids (``ResponseId``, ``Q1``…), row 2 the question wording, row 3 (in
    exports since 2017) each column's ``ImportId`` JSON, which also states ``RecordedDate``'s time
    zone; legacy exports have two header rows. Unfinished responses (``Finished`` 0/False) are
    left out and counted.
    """
    src, raw = read_export(path, spec, name)
    raw, legacy = _legacy_qualtrics(raw)
    when = "EndDate" if legacy else "RecordedDate"
    require_columns(raw, ("ResponseId", when), name, "Qualtrics")
    labels = {c: str(v) for c, v in raw.iloc[0].items()} if len(raw) else {}
    skip = 1
    zone = None
    if len(raw) > 1 and str(raw.iloc[1].get("ResponseId", "")).startswith("{"):
        skip = 2
        try:
            zone = json.loads(raw.iloc[1]["RecordedDate"]).get("timeZone")
        except (ValueError, AttributeError):
            zone = None
    data = raw.iloc[skip:].reset_index(drop=True)
    meta = {"StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
            "RecordedDate", "ResponseId", "ExternalReference", "DistributionChannel", "UserLanguage",
            "RecipientLastName", "RecipientFirstName", "RecipientEmail", "LocationLatitude", "LocationLongitude",
            "ResponseSet", "Name", "LocationAccuracy"}  # fmt: skip
    score, metric = find_score(data, labels, spec, name, skip=meta)
    comment = find_comment(data, labels, spec, score, skip=meta)
    finished = data["Finished"].astype("str").str.strip().str.lower() if "Finished" in data.columns else None
    keep = finished.isin(["1", "true"]).to_numpy() if finished is not None else None
    if zone and spec.timezone == "UTC":
        spec = ImportSpec(**{**vars(spec), "timezone": _iana(zone, name)})
    fb = _feedback(
        data, fid=data["ResponseId"], ts=data[when], score_col=score, metric=metric, comment_col=comment,
        survey=Path(name).stem, used=meta,
        customer=text(data["ExternalReference"]) if "ExternalReference" in data.columns else None,
    )  # fmt: skip
    for col, key in (("Status", "status"), ("Progress", "progress"), ("DistributionChannel", "distribution_channel"),
                     ("UserLanguage", "language"), ("Duration (in seconds)", "duration_s")):  # fmt: skip
        if col in data.columns:
            fb["properties"] = [
                ({**(p or {}), key: v} if v is not None else p)
                for p, v in zip(fb["properties"], text(data[col]), strict=True)
            ]
    left = excluded_rows(~keep, "not finished (Finished = 0)") if keep is not None else {}
    if keep is not None:
        fb = fb[keep]
    return load_tables(store, {"feedback": fb}, spec, name, excluded=left)


#: the legacy export's names for the columns that exports since 2017 name differently
_LEGACY_NAMES = {
    "ResponseID": "ResponseId",
    "ExternalDataReference": "ExternalReference",
    "EmailAddress": "RecipientEmail",
}


def _legacy_qualtrics(raw: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """A legacy Qualtrics export (before 2017): row 1 holds ``V1``, ``V2``… over the embedded fields
    and the question ids over the questions, row 2 the field names (``ResponseID``, ``EndDate``…) and
    the question wording; there is no ``RecordedDate`` (``EndDate`` is when the response was
    recorded). Returns the export with the current export's column names, the wording row kept as
    the first row, and whether it was legacy."""
    if "ResponseId" in raw.columns or not len(raw) or "ResponseID" not in set(raw.iloc[0].astype(str)):
        return raw, False
    names = []
    for col, second in raw.iloc[0].items():
        c = str(col)
        names.append(_LEGACY_NAMES.get(str(second), str(second)) if re.fullmatch(r"V\d+", c) else c)
    out = raw.copy()
    out.columns = names
    return out, True


#: Qualtrics writes some zones by their Windows-style names in older exports
_QUALTRICS_ZONES = {"Mountain Standard Time": "America/Denver", "Pacific Standard Time": "America/Los_Angeles",
                    "Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago"}  # fmt: skip


def _iana(zone: str, name: str) -> str:
    """The IANA name of the zone the ImportId row states (``Z`` is UTC, as in exports in UTC)."""
    z = "UTC" if zone.strip().upper() in ("Z", "UTC", "GMT", "ETC/UTC") else _QUALTRICS_ZONES.get(zone, zone)
    try:
        ZoneInfo(z)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFileError(
            f"{name}: its ImportId header row states the time zone {zone!r}, which is not an IANA name; "
            "give the survey's zone with --timezone (e.g. America/Denver)"
        ) from None
    return z


# -- SurveyMonkey ---------------------------------------------------------------------------------------
@preset("surveymonkey", ("feedback",), "SurveyMonkey 'All responses' export (CSV, two header rows)")
def surveymonkey(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """SurveyMonkey 'Export → All individual responses → CSV' (expanded columns, actual answer text).

    Row 1 holds the question (blank over a question's further columns), row 2 the answer option or
    ``Response``/``Open-Ended Response``; the two are joined into one column name.
    """
    if path.suffix.lower() in (".csv", ".txt"):
        first, second, rows = _csv_rows(path, spec, name)
    else:  # the Excel export
        _, raw = read_export(path, spec, name)
        first = [str(c) for c in raw.columns]
        second = raw.iloc[0].tolist() if len(raw) else [None] * len(first)
        rows = raw.iloc[1:].to_numpy(dtype=object).tolist()
    first = [("" if c.startswith("Unnamed:") else c).strip().lstrip("\ufeff") for c in first]
    require_columns(pd.DataFrame(columns=first), ("Respondent ID", "End Date"), name, "SurveyMonkey")
    names, current = [], ""
    for head, v in zip(first, second, strict=False):
        current = head or current
        sub = "" if v is None or pd.isna(v) else str(v).strip()
        names.append(current if sub in ("", "Response", "Open-Ended Response") or not head and not current
                     else (f"{current} - {sub}" if not head or sub != head else current))  # fmt: skip
    # a wording asked twice (a 'Comments' box on two pages) gives two columns of one name: number them
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[i] = f"{n} ({seen[n]})"
    data = pd.DataFrame(rows, columns=names, dtype=object)
    meta = {"Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address",
            "First Name", "Last Name", "Custom Data 1"}  # fmt: skip
    score, metric = find_score(data, {}, spec, name, skip=meta)
    comment = find_comment(data, {}, spec, score, skip=meta)
    fb = _feedback(data, fid=data["Respondent ID"], ts=data["End Date"], score_col=score, metric=metric,
                   comment_col=comment, survey=Path(name).stem, used=meta)  # fmt: skip
    if "Collector ID" in data.columns:
        fb["properties"] = [
            {**(p or {}), "collector_id": v} for p, v in zip(fb["properties"], data["Collector ID"], strict=True)
        ]
    return load_tables(store, {"feedback": fb}, spec, name)


def _csv_rows(path: Path, spec: ImportSpec, name: str) -> tuple[list[str], list[Any], list[list[Any]]]:
    """The export's two header rows and its data rows, read as text (a header row may repeat a name,
    which a one-header reader refuses); encoding from the BOM, else ``--encoding``, else UTF-8."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        enc = "utf-16"
    else:
        enc = spec.encoding or "utf-8"
    try:
        content = data.decode(enc)
    except UnicodeDecodeError as e:
        raise ImportFileError(
            f"{name} is not {enc} (byte {e.start + 1}); give its encoding with --encoding, e.g. cp1252"
        ) from None
    except LookupError:
        raise ParameterError("encoding", f"--encoding {enc!r} is not known") from None
    delim = spec.delimiter or ","
    rows = [r for r in csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter=delim) if r]
    if len(rows) < 2:
        raise ImportFileError(f"{name} has {len(rows)} lines; expected SurveyMonkey's two header rows and responses")
    width = len(rows[0])
    body = []
    for i, r in enumerate(rows[2:], start=3):
        if len(r) != width:
            raise ImportFileError(f"{name} line {i} has {len(r)} fields; expected {width} (as in the header)")
        body.append([v if v.strip() else None for v in r])
    return rows[0], [v or None for v in rows[1]] + [None] * (width - len(rows[1])), body


# -- Typeform ---------------------------------------------------------------------------------------------
@preset("typeform", ("feedback",), "Typeform responses export (CSV)")
def typeform(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Typeform 'Results → Responses → Download all responses → CSV': one row per response, the
    question wording as column names, ``#`` the response token, ``Submit Date (UTC)``. Partial
    responses (``Response Type`` ``partial``, in exports since 2023) are left out and counted."""
    src, raw = read_export(path, spec, name)
    require_columns(raw, ("#", "Submit Date (UTC)"), name, "Typeform")
    meta = {"#", "Start Date (UTC)", "Stage Date (UTC)", "Submit Date (UTC)", "Network ID", "Tags", "Response Type",
            "Ending"}  # fmt: skip
    left: dict[str, list[Any]] = {}
    if "Response Type" in raw.columns:
        # exports since 2023 hold partial responses too (Response Type 'partial', no Submit Date)
        done = raw["Response Type"].astype("str").str.strip().str.lower().eq("completed").to_numpy()
        left = excluded_rows(~done, "not completed (Response Type = partial)")
        raw = raw[done]
    score, metric = find_score(raw, {}, spec, name, skip=meta)
    comment = find_comment(raw, {}, spec, score, skip=meta)
    fb = _feedback(raw, fid=raw["#"], ts=raw["Submit Date (UTC)"], score_col=score, metric=metric, comment_col=comment,
                   survey=Path(name).stem, used=meta)  # fmt: skip
    return load_tables(store, {"feedback": fb}, spec, name, excluded=left)


# -- Delighted --------------------------------------------------------------------------------------------
@preset("delighted", ("feedback",), "Delighted responses (CSV export or API JSON)")
def delighted(store: Any, path: Path, spec: ImportSpec, name: str) -> dict[str, ImportReport]:
    """Delighted's CSV export (``Response ID``, ``Score``, ``Comment``, ``Response timestamp``) or
    the API's survey responses (``GET /v1/survey_responses.json``: ``created_at`` in Unix seconds,
    ``survey_type`` the metric, ``person`` the customer)."""
    src, raw = read_export(path, spec, name)
    if src.kind in ("json", "jsonl"):
        require_columns(raw, ("id", "score", "created_at"), name, "Delighted API")
        metric = raw["survey_type"].map(lambda v: {"smileys": "csat", "enps": "enps"}.get(v, v) or "nps") \
            if "survey_type" in raw.columns else "nps"  # fmt: skip
        fb = pd.DataFrame({
            "feedback_id": raw["id"], "ts": raw["created_at"], "metric": metric, "score": raw["score"],
            "comment": text(raw["comment"]) if "comment" in raw.columns else None,
            # `person` is the person's id, or the person itself with expand[]=person: its id, never the object
            "customer_id": raw["person"].map(lambda p: p.get("id") if isinstance(p, dict) else p)
            if "person" in raw.columns else None, "survey_id": "delighted",
        })  # fmt: skip
        extras = [
            c for c in ("person_properties", "tags", "notes", "additional_answers", "permalink") if c in raw.columns
        ]
        fb["properties"] = properties(raw, extras)
        if spec.epoch is None:
            spec = ImportSpec(**{**vars(spec), "epoch": "s"})
        return load_tables(store, {"feedback": fb}, spec, name)
    require_columns(raw, ("Response ID", "Score", "Response timestamp"), name, "Delighted CSV")
    meta = {"Response ID", "Score", "Comment", "Response timestamp", "Email", "Name", "Tags", "Notes", "Survey type"}
    fb = _feedback(raw, fid=raw["Response ID"], ts=raw["Response timestamp"], score_col="Score",
                   metric=spec.metric or "nps", comment_col="Comment" if "Comment" in raw.columns else None,
                   survey="delighted", used=meta)  # fmt: skip
    return load_tables(store, {"feedback": fb}, spec, name)
