"""Effort and emotion signals for routing: anger, confusion, urgency, effort and gratitude.

Each signal is a short list of regular expressions (lexicon words and phrases), listed in
:data:`SIGNALS` and in ``docs/voice-themes.md``. A text's score for a signal is
``1 - exp(-hits)`` where ``hits`` counts the distinct patterns that match (0 → 0, 1 → 0.63,
2 → 0.86, …); the flag is ``hits >= 1``. Anger also counts shouting (two or more all-capital
words of three or more letters) and runs of exclamation marks. Gratitude is suppressed by
sarcasm markers ("thanks for nothing", "thanks a lot" followed by a complaint word).

Rules, not a model: they are transparent, fast and editable, and they were checked on hand
examples (``tests/voice/test_signals.py``) and on a reviewed sample of airline tweets
(precision figures in the docs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SIGNALS", "signals"]

_NUM = r"(?:two|three|four|five|six|seven|eight|nine|ten|\d+|several|multiple|many|countless|numerous)"

#: signal → regular expressions (case-insensitive); each matching pattern is one hit
SIGNALS: dict[str, list[str]] = {
    "anger": [
        r"\b(furious|livid|outraged|outrageous|fuming|angry|angrier|pissed|infuriat\w*|enraged)\b",
        r"\b(unacceptable|ridiculous|disgrace\w*|disgust\w*|pathetic|appalling|atrocious|shameful|joke)\b",
        r"\b(worst|horrible|horrendous|terrible|awful|useless|incompetent|rude)\b",
        r"\b(never (again|fly\w*|use|order\w*|buy\w*|shop\w*)|wtf|screw (you|this))\b",
        r"\b(sue|lawyer|complaint filed|file a complaint|report you)\b",
    ],
    "confusion": [
        r"\b(confus\w*|puzzl\w*|baffl\w*|unclear|makes no sense|doesn'?t make sense|no idea)\b",
        r"\b(don'?t|do not|can'?t|cannot) (understand|figure out|work out|tell)\b",
        r"\b(how (do|can|should) i|what (do|should) i|where (do|can|should) i|why (is|does|did|was|would|can'?t))\b",
        r"\b(which one|what does .{1,30} mean|is this normal|am i supposed)\b",
        r"\b(contradict\w*|mixed messages|different answers?|conflicting)\b",
    ],
    "urgency": [
        r"\b(urgent\w*|asap|emergency|immediately|right now|right away|as soon as possible)\b",
        r"\b(today|tonight|tomorrow morning|in an hour|within the hour)\b",
        r"\b(need (help|it|this|an answer|a response|someone)|please help|help me)\b",
        r"\b(missed? (my|the|a) (connection|flight|meeting|wedding|funeral)|deadline|running out of time)\b",
        r"\b(stranded|stuck at|about to (miss|board|leave))\b",
    ],
    "effort": [
        rf"\b(call(ed)?|rang|phoned|emailed|e-mailed|contacted|messaged|tweeted|dm'?d|tried|asked|written) {_NUM} times\b",
        rf"\b({_NUM} (calls|emails|e-mails|times|attempts|phone calls|messages|tries)|twice|third time|fourth time)\b",
        r"\b(still (waiting|no|not|have ?n[o']t|haven'?t|nothing|on hold)|yet again|again and again|once again)\b",
        r"\b(on hold|hold (for|music)|(hours?|minutes?|mins?|hrs?) (on|of) hold|been waiting|waited (for )?\w+ (hours?|days?|weeks?))\b",
        r"\b(transferred|back and forth|run ?around|chas(e|ing)|keep (calling|asking|trying|getting)|no one (answers|responded|replies|picks up)|nobody (answers|responded|replies|picks up))\b",
        r"\b(call|ring|rang|phon|email|e-mail|contact|ask|explain|tr(y|ied)|writ|wrote|chas|sen[dt]|submit)\w*\b[^.!?]{0,30}\bagain\b",
        r"\b(repeated(ly)?|re-?explain\w*|start(ed)? (all )?over|had to (call|go|come|ask|explain|wait|drive|return|send))\b",
    ],
    "gratitude": [
        r"\b(thank(s| you| u)?|thx|ty|cheers)\b",
        r"\b(appreciat\w*|grateful|gratitude|kudos|shout ?out|hats off)\b",
        r"\b(you (guys )?(rock|are (the best|amazing|awesome))|above and beyond|lifesaver)\b",
    ],
}

_SARCASM = re.compile(
    r"\b(thank(s| you)\b[^.!?]{0,25}\bfor (nothing|not\b|screwing|ruining|wasting|losing|cancel\w*|delay\w*|"
    r"stranding|making me|the runaround)|"
    r"no thanks|thanks? but no)\b",
    re.IGNORECASE,
)
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")
_NOT_SHOUT = {"USA", "LAX", "JFK", "LGA", "ORD", "DFW", "SFO", "ATL", "DCA", "IAD", "EWR", "BOS", "PHL", "DEN", "FAQ"}
_BANG = re.compile(r"!{2,}")
_URL = re.compile(r"https?://\S+|@\w+")

_COMPILED = {name: [re.compile(p, re.IGNORECASE) for p in pats] for name, pats in SIGNALS.items()}


def _hits(text: str) -> dict[str, int]:
    out = {name: sum(1 for p in pats if p.search(text)) for name, pats in _COMPILED.items()}
    shouts = [w for w in _SHOUT.findall(text) if w not in _NOT_SHOUT]
    out["anger"] += int(len(shouts) >= 2) + int(bool(_BANG.search(text)))
    if _SARCASM.search(text):
        out["gratitude"] = 0
        out["anger"] += 1
    return out


def signals(texts: Sequence[Any]) -> pd.DataFrame:
    """Anger, confusion, urgency, effort and gratitude of each text, as scores and flags.

    Parameters
    ----------
    texts : sequence of str
        Verbatims; ``None``/NaN count as empty.

    Returns
    -------
    DataFrame
        One row per text: ``<signal>`` score in [0, 1) and ``<signal>_flag`` bool for each of
        ``anger, confusion, urgency, effort, gratitude``.

    Examples
    --------
    >>> s = signals(["I had to call three times and I'm still waiting!", "Thanks, great help"])
    >>> s["effort_flag"].tolist(), s["gratitude_flag"].tolist()
    ([True, False], [False, True])
    """
    rows = []
    for t in texts:
        if t is None or (isinstance(t, float) and math.isnan(t)):
            t = ""
        rows.append(_hits(_URL.sub(" ", str(t))))
    hits = pd.DataFrame(rows, columns=list(SIGNALS), dtype=float).fillna(0.0)
    out = pd.DataFrame(index=range(len(hits)))
    for name in SIGNALS:
        out[name] = 1.0 - np.exp(-hits[name].to_numpy())
    for name in SIGNALS:
        out[f"{name}_flag"] = hits[name].to_numpy() >= 1
    return out
