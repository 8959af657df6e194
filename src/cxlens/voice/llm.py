"""An optional LLM sentiment analyser speaking the OpenAI-compatible chat completions API.

Never used unless configured. Configuration, first found wins per field:

* workspace setting ``voice.llm``: ``{"base_url": "http://localhost:11434/v1", "model": "llama3.1",
  "api_key_env": "OPENAI_API_KEY", "timeout": 30, "batch_size": 20}``;
* environment: ``CXLENS_LLM_BASE_URL``, ``CXLENS_LLM_MODEL``, ``CXLENS_LLM_API_KEY``.

The API key is only ever read from the environment (never stored in the workspace). Texts are
sent in batches as a numbered JSON list; the model is asked for a JSON array of
``{"i", "label", "score"}``. Anything that goes wrong with a batch — connection error, timeout,
HTTP error, a reply that is not the expected JSON, a missing or invalid item — is retried once,
then those texts are scored by the ``fallback`` analyser (the shipped model by default);
``attrs["llm_failed"]`` counts them. Only redacted text should be sent to a hosted API:
:func:`cxlens.voice.analyse_verbatims` scores redacted text.

Probabilities follow the score: ``p_positive = max(score, 0)``, ``p_negative = max(-score, 0)``,
``p_neutral = 1 - |score|``, so ``score = p_positive - p_negative`` as for every analyser.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError
from cxlens.voice.sentiment import LABELS, SentimentAnalyzer

__all__ = ["ANALYSERS", "LLM_SETTING", "LLMAnalyzer", "analyser_by_name", "llm_analyzer"]

#: Names accepted by :func:`analyser_by_name` (and the CLI's ``--analyser``).
ANALYSERS = ("cxlens", "vader", "embeddings", "llm")

LLM_SETTING = "voice.llm"
SYSTEM_PROMPT = (
    "You label the sentiment of customer feedback. For each numbered text return one JSON object "
    '{"i": <number>, "label": "negative"|"neutral"|"positive"|"mixed", "score": <number from -1 to 1>}. '
    "Reply with a JSON array of these objects only, one per text, no prose."
)
_ARRAY = re.compile(r"\[.*\]", re.DOTALL)
_DEFAULT_SCORE = {"negative": -0.8, "neutral": 0.0, "mixed": 0.0, "positive": 0.8}


class LLMAnalyzer:
    """Sentiment from a chat-completions endpoint, behind the :class:`SentimentAnalyzer` interface.

    Parameters
    ----------
    base_url : str
        The API root, e.g. ``http://localhost:11434/v1`` (``/chat/completions`` is appended).
    model : str
        Model name sent in every request.
    api_key : str, optional
        Sent as ``Authorization: Bearer``; read it from the environment, do not hard-code it.
    timeout : float
        Seconds per request.
    batch_size : int
        Texts per request.
    fallback : SentimentAnalyzer, optional
        Scores the texts of failed batches (default: the shipped model).
    """

    name = "llm"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        batch_size: int = 20,
        fallback: SentimentAnalyzer | None = None,
    ):
        if not re.match(r"https?://", str(base_url)):
            raise ConfigError(f"LLM base_url {base_url!r} is not an http(s) URL; e.g. http://localhost:11434/v1")
        if not model:
            raise ConfigError("LLM model is empty; set voice.llm.model or CXLENS_LLM_MODEL, e.g. llama3.1")
        if batch_size < 1:
            raise ConfigError(f"LLM batch_size is {batch_size!r}; expected 1 or more")
        self.base_url = str(base_url).rstrip("/")
        self.model = str(model)
        self.api_key = api_key
        self.timeout = float(timeout)
        self.batch_size = int(batch_size)
        self.fallback = fallback
        self.name = f"llm:{self.model}"

    # -- protocol ------------------------------------------------------------------------------
    def _post(self, texts: list[str]) -> str:
        numbered = json.dumps([{"i": i, "text": t} for i, t in enumerate(texts)], ensure_ascii=False)
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": numbered}],
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(
            self.base_url + "/chat/completions", data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - user-configured URL
            reply = json.loads(resp.read().decode("utf-8"))
        return str(reply["choices"][0]["message"]["content"])

    @staticmethod
    def parse(content: str, n: int) -> list[tuple[str, float]]:
        """(label, score) for each of ``n`` texts from a reply; raises ValueError if any is missing or bad."""
        content = content.strip()
        match = _ARRAY.search(content)
        if match is None:
            raise ValueError("no JSON array in the reply")
        items = json.loads(match.group(0))
        got: dict[int, tuple[str, float]] = {}
        for it in items:
            if not isinstance(it, dict):
                raise ValueError("an item is not an object")
            i, label = int(it["i"]), str(it.get("label", "")).strip().lower()
            if label not in LABELS or not 0 <= i < n:
                raise ValueError(f"bad item {it!r}")
            score = it.get("score")
            s = float(score) if isinstance(score, int | float) and np.isfinite(score) else _DEFAULT_SCORE[label]
            got[i] = (label, float(np.clip(s, -1.0, 1.0)))
        if len(got) != n:
            raise ValueError(f"{n - len(got)} texts missing from the reply")
        return [got[i] for i in range(n)]

    def _batch(self, texts: list[str]) -> list[tuple[str, float]] | None:
        for _ in range(2):  # one retry
            try:
                return self.parse(self._post(texts), len(texts))
            except (OSError, urllib.error.URLError, ValueError, KeyError, IndexError, TypeError):
                continue
        return None

    def score(self, texts: Sequence[str | None]) -> pd.DataFrame:
        """The standard sentiment frame; failed batches are scored by the fallback analyser."""
        clean = ["" if t is None or t != t else str(t) for t in texts]
        label = np.empty(len(clean), dtype=object)
        score = np.zeros(len(clean))
        failed: list[int] = []
        for a in range(0, len(clean), self.batch_size):
            part = clean[a : a + self.batch_size]
            res = self._batch(part)
            if res is None:
                failed += range(a, a + len(part))
                continue
            for k, (lab, s) in enumerate(res):
                label[a + k], score[a + k] = lab, s
        out = pd.DataFrame(
            {
                "score": score,
                "label": label,
                "p_negative": np.maximum(-score, 0.0),
                "p_neutral": 1.0 - np.abs(score),
                "p_positive": np.maximum(score, 0.0),
            }
        )
        if failed:
            from cxlens.voice.sentiment import default_model

            fb = (self.fallback or default_model()).score([clean[i] for i in failed])
            out.loc[failed, list(fb.columns)] = fb.to_numpy()
            out["label"] = out["label"].astype(object)
            for c in ("score", "p_negative", "p_neutral", "p_positive"):
                out[c] = out[c].astype(float)
        out.attrs["llm_failed"] = len(failed)
        return out


def llm_analyzer(ws: Any = None, env: dict[str, str] | None = None) -> LLMAnalyzer | None:
    """The configured :class:`LLMAnalyzer` (workspace setting ``voice.llm``, else environment), or None."""
    env = dict(os.environ if env is None else env)
    conf = ws.setting(LLM_SETTING) if ws is not None else None
    conf = dict(conf) if isinstance(conf, dict) else {}
    if "api_key" in conf:
        raise ConfigError(
            "workspace setting voice.llm has an 'api_key'; keys are not stored in workspaces: "
            "set api_key_env to the name of an environment variable instead"
        )
    base = conf.get("base_url") or env.get("CXLENS_LLM_BASE_URL")
    if not base:
        return None
    model = conf.get("model") or env.get("CXLENS_LLM_MODEL") or ""
    key = env.get(str(conf.get("api_key_env") or "CXLENS_LLM_API_KEY"))
    return LLMAnalyzer(
        base, model, key, timeout=float(conf.get("timeout", 30.0)), batch_size=int(conf.get("batch_size", 20))
    )


def analyser_by_name(name: str, ws: Any = None) -> SentimentAnalyzer:
    """The sentiment analyser called ``name`` (one of :data:`ANALYSERS`); ``llm`` must be configured."""
    if name == "cxlens":
        from cxlens.voice.sentiment import default_model

        return default_model()
    if name == "vader":
        from cxlens.voice.sentiment import VaderAnalyzer

        return VaderAnalyzer()
    if name == "embeddings":
        from cxlens.voice.embeddings import EmbeddingSentiment

        return EmbeddingSentiment.load()
    if name == "llm":
        a = llm_analyzer(ws)
        if a is None:
            raise ConfigError(
                "the llm analyser is not configured; set CXLENS_LLM_BASE_URL and CXLENS_LLM_MODEL "
                "(or the workspace setting voice.llm) to an OpenAI-compatible API"
            )
        return a
    raise ConfigError(f"analyser {name!r} is unknown; expected one of {', '.join(ANALYSERS)}")
