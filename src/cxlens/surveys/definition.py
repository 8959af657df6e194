"""Survey definitions: parsed from YAML/JSON and validated, with errors naming the field.

A definition is plain data (see docs/surveys.md for the reference and a full example)::

    id: checkout-nps
    name: Checkout NPS
    metric: nps
    question: How likely are you to recommend us to a friend?
    follow_up: {promoter: What did you love?, passive: What would make it a 10?, detractor: What went wrong?}
    touchpoint: checkout
    targeting: {trigger: {event: order_completed, delay_seconds: 2}, sample_rate: 0.5, recontact_days: 90}

>>> d = SurveyDefinition.from_dict({"id": "s1", "name": "S", "metric": "csat", "question": "Happy?"})
>>> d.scale, d.display
((1, 5), 'stars')
>>> SurveyDefinition.from_dict({"id": "s1", "name": "S", "metric": "nps", "question": "?", "sample_rate": 2})
Traceback (most recent call last):
...
cxlens.errors.ConfigError: survey field 'sample_rate' is not allowed at the top level; expected one of ...
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from cxlens.errors import ConfigError

__all__ = ["METRICS", "STATUSES", "Question", "SurveyDefinition", "load_definition"]

#: metric → (min, max) score of its scale; choice and text have none of their own
METRICS: dict[str, tuple[int, int] | None] = {
    "nps": (0, 10),
    "enps": (0, 10),
    "csat": (1, 5),
    "ces": (1, 7),
    "rating": (1, 5),
    "choice": None,
    "text": None,
}
DISPLAYS = {"nps": ("numbers",), "enps": ("numbers",), "csat": ("stars", "faces", "numbers"),
            "ces": ("numbers",), "rating": ("stars", "faces", "numbers"), "choice": ("buttons",), "text": ("text",)}  # fmt: skip
STATUSES = ("draft", "active", "paused")
POSITIONS = ("bottom-right", "bottom-left", "top-right", "top-left", "center")
QUESTION_TYPES = ("text", "choice", "rating")
#: translatable wording fields
TEXTS = ("question", "follow_up", "thank_you", "low_label", "high_label", "submit_label", "tab_label")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_COLOR = re.compile(r"^(#[0-9a-fA-F]{3,8}|[a-z]+|rgba?\([0-9., %]+\))$")
_CONDITION = re.compile(r"^\s*score\s*(<=|>=|<|>|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MAX_TEXT = 500


def _fail(path: str, value: Any, expected: str) -> ConfigError:
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return ConfigError(f"survey field {path!r} is {shown}; expected {expected}")


def _keys(data: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(path or "definition", data, "a mapping of fields")
    for k in data:
        if k not in allowed:
            where = f"in {path!r}" if path else "at the top level"
            raise ConfigError(f"survey field {k!r} is not allowed {where}; expected one of {', '.join(allowed)}")
    return data


def _text(data: dict, key: str, path: str, *, required: bool = False, default: str | None = None) -> str | None:
    v = data.get(key)
    if v is None:
        if required:
            raise ConfigError(f"survey field {path + key!r} is missing; add it (a short text)")
        return default
    if not isinstance(v, str) or not v.strip():
        raise _fail(path + key, v, "a non-empty text")
    if len(v) > MAX_TEXT:
        raise _fail(path + key, v[:20] + "…", f"at most {MAX_TEXT} characters")
    return v.strip()


def _number(data: dict, key: str, path: str, lo: float, hi: float, default: Any, integer: bool = False) -> Any:
    v = data.get(key, default)
    if v is None:
        return None
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi
    if integer and ok and float(v) != int(v):
        ok = False
    if not ok:
        kind = "a whole number" if integer else "a number"
        raise _fail(path + key, v, f"{kind} from {lo:g} to {hi:g}")
    return int(v) if integer else float(v)


def _date(data: dict, key: str, path: str) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.isoformat()
    try:
        return datetime.fromisoformat(str(v)).isoformat()
    except ValueError:
        raise _fail(path + key, v, "an ISO date such as 2026-01-31 or 2026-01-31T12:00") from None


def parse_condition(text: str, path: str) -> tuple[str, float]:
    """``"score <= 6"`` → ``("<=", 6.0)``."""
    m = _CONDITION.match(text) if isinstance(text, str) else None
    if not m:
        raise _fail(path, text, "a condition such as 'score <= 6' (operators <=, >=, <, >, ==, !=)")
    return m.group(1), float(m.group(2))


def condition_holds(cond: str | None, score: float | None) -> bool:
    """Whether branching condition ``cond`` holds for ``score`` (no condition always holds)."""
    if not cond:
        return True
    if score is None:
        return False
    op, v = parse_condition(cond, "show_if")
    return {"<=": score <= v, ">=": score >= v, "<": score < v, ">": score > v, "==": score == v, "!=": score != v}[op]


@dataclass(frozen=True)
class Question:
    """An extra question after the score, optionally shown only when ``show_if`` holds."""

    id: str
    type: str
    question: str
    options: tuple[str, ...] = ()
    show_if: str | None = None
    translations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SurveyDefinition:
    """A validated survey definition (see :func:`load_definition` and docs/surveys.md)."""

    id: str
    name: str
    metric: str
    question: str
    status: str = "draft"
    display: str = "numbers"
    options: tuple[str, ...] = ()
    #: follow-up wording: key "default" and optionally promoter/passive/detractor (NPS) or low/high
    follow_up: dict[str, str] = field(default_factory=dict)
    low_label: str | None = None
    high_label: str | None = None
    thank_you: str = "Thank you for your feedback!"
    touchpoint: str | None = None
    channel: str | None = None
    questions: tuple[Question, ...] = ()
    language: str = "en"
    translations: dict[str, dict[str, Any]] = field(default_factory=dict)
    targeting: dict[str, Any] = field(default_factory=dict)
    appearance: dict[str, Any] = field(default_factory=dict)
    link: dict[str, Any] = field(default_factory=dict)

    @property
    def scale(self) -> tuple[int, int] | None:
        """(min, max) score, or None for choice/text surveys."""
        if self.metric == "choice":
            return (1, len(self.options))
        return METRICS[self.metric]

    # -- parsing ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any) -> SurveyDefinition:
        top = (
            "id", "name", "metric", "question", "status", "display", "options", "follow_up", "low_label",
            "high_label", "thank_you", "touchpoint", "channel", "questions", "language", "translations",
            "targeting", "appearance", "link",
        )  # fmt: skip
        d = _keys(data, "", top)
        sid = d.get("id")
        if not isinstance(sid, str) or not _ID.match(sid):
            raise _fail("id", sid, "1-64 lower-case letters, digits, '-' or '_' (e.g. checkout-nps)")
        metric = d.get("metric")
        if metric not in METRICS:
            raise _fail("metric", metric, f"one of {', '.join(METRICS)}")
        status = d.get("status", "draft")
        if status not in STATUSES:
            raise _fail("status", status, f"one of {', '.join(STATUSES)}")
        display = d.get("display", DISPLAYS[metric][0])
        if display not in DISPLAYS[metric]:
            raise _fail("display", display, f"for metric {metric!r} one of {', '.join(DISPLAYS[metric])}")
        options: tuple[str, ...] = ()
        if metric == "choice":
            opts = d.get("options")
            if (
                not isinstance(opts, list)
                or not 2 <= len(opts) <= 20
                or not all(isinstance(o, str) and o for o in opts)
            ):
                raise _fail("options", opts, "a list of 2 to 20 texts for a choice survey")
            options = tuple(opts)
        elif "options" in d:
            raise ConfigError(f"survey field 'options' is only for metric 'choice', not {metric!r}; remove it")
        lang = d.get("language", "en")
        if not isinstance(lang, str) or not _LANG.match(lang):
            raise _fail("language", lang, "a language tag such as 'en' or 'pt-BR'")
        follow = cls._follow_up(d.get("follow_up"), metric, "follow_up")
        questions = tuple(cls._question(q, i) for i, q in enumerate(_list(d, "questions")))
        seen = [q.id for q in questions]
        if len(set(seen)) != len(seen):
            raise _fail("questions", seen, "distinct question ids")
        return cls(
            id=sid,
            name=_text(d, "name", "", required=True) or sid,
            metric=metric,
            question=_text(d, "question", "", required=True) or "",
            status=status,
            display=display,
            options=options,
            follow_up=follow,
            low_label=_text(d, "low_label", ""),
            high_label=_text(d, "high_label", ""),
            thank_you=_text(d, "thank_you", "", default="Thank you for your feedback!") or "",
            touchpoint=_text(d, "touchpoint", ""),
            channel=_text(d, "channel", ""),
            questions=questions,
            language=lang,
            translations=cls._translations(d.get("translations"), metric, questions),
            targeting=cls._targeting(d.get("targeting", {})),
            appearance=cls._appearance(d.get("appearance", {})),
            link=cls._link(d.get("link", {})),
        )

    @staticmethod
    def _follow_up(v: Any, metric: str, path: str) -> dict[str, str]:
        if v is None:
            return {}
        if isinstance(v, str):
            v = {"default": v}
        groups = ("promoter", "passive", "detractor") if metric in ("nps", "enps") else ("low", "high")
        allowed = ("default", *groups)
        _keys(v, path, allowed)
        return {k: _text(v, k, path + ".") or "" for k in allowed if k in v}

    @staticmethod
    def _question(q: Any, i: int) -> Question:
        path = f"questions[{i}]."
        q = _keys(q, f"questions[{i}]", ("id", "type", "question", "options", "show_if"))
        qid = q.get("id")
        if not isinstance(qid, str) or not _ID.match(qid):
            raise _fail(path + "id", qid, "1-64 lower-case letters, digits, '-' or '_'")
        qtype = q.get("type", "text")
        if qtype not in QUESTION_TYPES:
            raise _fail(path + "type", qtype, f"one of {', '.join(QUESTION_TYPES)}")
        opts: tuple[str, ...] = ()
        if qtype == "choice":
            o = q.get("options")
            if not isinstance(o, list) or len(o) < 2 or not all(isinstance(x, str) and x for x in o):
                raise _fail(path + "options", o, "a list of at least 2 texts")
            opts = tuple(o)
        show_if = q.get("show_if")
        if show_if is not None:
            parse_condition(show_if, path + "show_if")
        return Question(qid, qtype, _text(q, "question", path, required=True) or "", opts, show_if)

    @staticmethod
    def _translations(v: Any, metric: str, questions: tuple[Question, ...]) -> dict[str, dict[str, Any]]:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise _fail("translations", v, "a mapping of language tag → texts, e.g. {fr: {question: ...}}")
        out: dict[str, dict[str, Any]] = {}
        qids = tuple(q.id for q in questions)
        for lang, texts in v.items():
            path = f"translations.{lang}"
            if not isinstance(lang, str) or not _LANG.match(lang):
                raise _fail("translations", lang, "language tags such as 'fr' or 'pt-BR' as keys")
            t = _keys(texts, path, (*TEXTS, "options", "questions"))
            entry: dict[str, Any] = {}
            for k in TEXTS:
                if k == "follow_up" and k in t:
                    entry[k] = SurveyDefinition._follow_up(t[k], metric, path + ".follow_up")
                elif k in t:
                    entry[k] = _text(t, k, path + ".")
            if "options" in t:
                if not isinstance(t["options"], list) or not all(isinstance(o, str) for o in t["options"]):
                    raise _fail(path + ".options", t["options"], "a list of texts")
                entry["options"] = list(t["options"])
            if "questions" in t:
                qs = _keys(t["questions"], path + ".questions", qids)
                entry["questions"] = {k: _text(qs, k, path + ".questions.") for k in qs}
            out[lang] = entry
        return out

    @staticmethod
    def _targeting(v: Any) -> dict[str, Any]:
        p = "targeting."
        t = _keys(v, "targeting", ("url", "trigger", "sample_rate", "recontact_days", "once_per_person",
                                   "max_responses", "start", "end", "languages"))  # fmt: skip
        urls = t.get("url")
        if isinstance(urls, str):
            urls = [urls]
        if urls is not None and (not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls)):
            raise _fail(p + "url", urls, "a URL pattern or a list of them, e.g. '/checkout/*'")
        trig = t.get("trigger") or {}
        if isinstance(trig, str):
            trig = {"event": trig}
        _keys(trig, "targeting.trigger", ("event", "delay_seconds"))
        event = trig.get("event")
        if event is not None and (not isinstance(event, str) or not event or len(event) > 200):
            raise _fail(p + "trigger.event", event, "an event name such as 'order_completed'")
        start, end = _date(t, "start", p), _date(t, "end", p)
        if start and end and end <= start:
            raise _fail(p + "end", end, f"a date after targeting.start ({start})")
        once = t.get("once_per_person", True)
        if not isinstance(once, bool):
            raise _fail(p + "once_per_person", once, "true or false")
        return {
            "url": urls or [],
            "trigger": {"event": event, "delay_seconds": _number(trig, "delay_seconds", p + "trigger.", 0, 3600, 0)},
            "sample_rate": _number(t, "sample_rate", p, 0, 1, 1.0),
            "recontact_days": _number(t, "recontact_days", p, 0, 3650, 30, integer=True),
            "once_per_person": once,
            "max_responses": _number(t, "max_responses", p, 1, 10**9, None, integer=True),
            "start": start,
            "end": end,
        }

    @staticmethod
    def _appearance(v: Any) -> dict[str, Any]:
        p = "appearance."
        a = _keys(v, "appearance", ("position", "colors", "feedback_tab", "tab_label"))
        pos = a.get("position", "bottom-right")
        if pos not in POSITIONS:
            raise _fail(p + "position", pos, f"one of {', '.join(POSITIONS)}")
        colors = _keys(a.get("colors", {}), p + "colors", ("primary", "background", "text"))
        for k, c in colors.items():
            if not isinstance(c, str) or not _COLOR.match(c):
                raise _fail(f"{p}colors.{k}", c, "a CSS colour such as '#4f46e5'")
        tab = a.get("feedback_tab", False)
        if not isinstance(tab, bool):
            raise _fail(p + "feedback_tab", tab, "true or false")
        return {"position": pos, "colors": dict(colors), "feedback_tab": tab,
                "tab_label": _text(a, "tab_label", p, default="Feedback")}  # fmt: skip

    @staticmethod
    def _link(v: Any) -> dict[str, Any]:
        a = _keys(v, "link", ("public",))
        public = a.get("public", False)
        if not isinstance(public, bool):
            raise _fail("link.public", public, "true or false")
        return {"public": public}

    # -- output -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"] = list(self.options)
        d["questions"] = [
            {k: (list(x) if isinstance(x, tuple) else x) for k, x in q.items() if k != "translations" and x not in (None, ())}
            for q in d["questions"]
        ]  # fmt: skip
        if self.metric != "choice":
            d.pop("options")
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def with_status(self, status: str) -> SurveyDefinition:
        d = self.to_dict()
        d["status"] = status
        return SurveyDefinition.from_dict(d)

    def follow_up_for(self, score: float | None) -> str | None:
        """The follow-up wording for an answer's group (promoter/passive/detractor, low/high)."""
        return _follow_for(self.follow_up, self.metric, self.scale, score)

    def localised(self, lang: str) -> dict[str, Any]:
        """Texts in language ``lang`` (falling back to the survey's own), as the widget needs them."""
        t = self.translations.get(lang, {}) if lang != self.language else {}
        follow = dict(self.follow_up)
        follow.update(t.get("follow_up", {}))
        qtr = t.get("questions", {})
        opts = t["options"] if self.options and len(t.get("options") or []) == len(self.options) else list(self.options)
        return {
            "id": self.id,
            "language": lang if t or lang == self.language else self.language,
            "metric": self.metric,
            "scale": list(self.scale) if self.scale else None,
            "display": self.display,
            "question": t.get("question") or self.question,
            "options": opts,
            "follow_up": follow,
            "low_label": t.get("low_label") or self.low_label or _default_labels(self.metric)[0],
            "high_label": t.get("high_label") or self.high_label or _default_labels(self.metric)[1],
            "thank_you": t.get("thank_you") or self.thank_you,
            "submit_label": t.get("submit_label") or "Send",
            "tab_label": t.get("tab_label") or self.appearance.get("tab_label") or "Feedback",
            "questions": [
                {
                    "id": q.id,
                    "type": q.type,
                    "question": qtr.get(q.id) or q.question,
                    "options": list(q.options),
                    "show_if": q.show_if,
                }
                for q in self.questions
            ],  # fmt: skip
            "trigger": self.targeting.get("trigger", {}),
            "appearance": self.appearance,
        }


def _default_labels(metric: str) -> tuple[str, str]:
    return {
        "nps": ("Not at all likely", "Extremely likely"),
        "enps": ("Not at all likely", "Extremely likely"),
        "csat": ("Very unsatisfied", "Very satisfied"),
        "ces": ("Very difficult", "Very easy"),
        "rating": ("Poor", "Excellent"),
    }.get(metric, ("", ""))


def _follow_for(follow: dict[str, str], metric: str, scale: Any, score: float | None) -> str | None:
    if score is not None and metric in ("nps", "enps"):
        group = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        return follow.get(group) or follow.get("default")
    if score is not None and scale:
        lo, hi = scale
        group = "high" if score > (lo + hi) / 2 else "low"
        return follow.get(group) or follow.get("default")
    return follow.get("default")


def _list(d: dict, key: str) -> list[Any]:
    v = d.get(key, [])
    if not isinstance(v, list):
        raise _fail(key, v, "a list")
    return v


def load_definition(source: str | Path | dict[str, Any]) -> SurveyDefinition:
    """A definition from a dict, a YAML/JSON file path or YAML/JSON text."""
    if isinstance(source, dict):
        return SurveyDefinition.from_dict(source)
    text = str(source)
    name = "definition"
    if isinstance(source, Path) or ("\n" not in text and text.endswith((".yaml", ".yml", ".json"))):
        p = Path(source)
        if not p.exists():
            raise ConfigError(f"survey file {str(p)!r} does not exist; check the path")
        text, name = p.read_text(encoding="utf-8"), p.name
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError(f"survey definition {name!r} is not valid YAML at {where} ({e.problem}); fix it") from None
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise ConfigError(
            f"survey definition {name!r} is not valid YAML/JSON ({str(e).splitlines()[0]}); fix it"
        ) from None
    return SurveyDefinition.from_dict(data)
