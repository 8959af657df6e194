"""Sentiment of customer text: the shipped linear model, a VADER baseline, and file scoring.

The default :class:`SentimentModel` is a multinomial logistic regression over hashed features
(word unigrams and bigrams with negation scopes, character 3–5-grams), trained by
``scripts/train_sentiment.py`` on permissively licensed review text only and shipped as plain
NumPy weights (``models/sentiment-v1.npz``). Inference needs only NumPy: every text of a batch
is normalised with a handful of regular expressions over one joined string and featurised with
vectorised rolling hashes, so a batch costs a few array passes instead of a Python loop per
token. See ``docs/sentiment.md`` for the design, the training data and the benchmark.

Every analyser returns the same frame: ``score`` in [-1, 1] (P(positive) − P(negative)),
``label`` (negative, neutral, positive or mixed) and the three class probabilities.

Examples
--------
>>> from cxlens.voice import analyse_sentiment
>>> analyse_sentiment(["I love it", "terrible, never again"])["label"].tolist()
['positive', 'negative']
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, MissingExtraError, SchemaError

__all__ = [
    "CLASSES",
    "LABELS",
    "MIXED_MIN",
    "SentimentAnalyzer",
    "SentimentModel",
    "VaderAnalyzer",
    "analyse_sentiment",
    "default_model",
    "score_file",
]

CLASSES = ("negative", "neutral", "positive")
LABELS = ("negative", "neutral", "positive", "mixed")
#: A text is ``mixed`` when both P(negative) and P(positive) reach this probability.
MIXED_MIN = 0.3
COLUMNS = ["score", "label", "p_negative", "p_neutral", "p_positive"]
DEFAULT_WEIGHTS = Path(__file__).with_name("models") / "sentiment-v1.npz"

_M64 = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier
_P = np.uint64(1_099_511_628_211)  # FNV prime as the polynomial base
_SALT = {"w1": 0x51ED27, "w2": 0xB16B00, "c": 0xC4A12}


@runtime_checkable
class SentimentAnalyzer(Protocol):
    """Anything that scores a batch of texts into the standard sentiment frame.

    ``score(texts)`` returns one row per text, in order, with the columns ``score`` (float in
    [-1, 1]), ``label`` (one of :data:`LABELS`), ``p_negative``, ``p_neutral`` and
    ``p_positive``. Embedding or LLM analysers plug in by implementing this method.
    """

    name: str

    def score(self, texts: Sequence[str | None]) -> pd.DataFrame: ...


# -- text normalisation and hashing ----------------------------------------------------
_URL = re.compile(r"(?:https?://|www\.)[^\s\x00]+")
_MENTION = re.compile(r"@\w+")
_HTML = re.compile(r"<br\s*/?>|&[a-z]+;|&#\d+;")
_NOT_WORDS = "dont|didnt|doesnt|isnt|wasnt|arent|werent|cant|wont|couldnt|wouldnt|shouldnt|havent|hasnt|hadnt|aint"
# a negation cue, then its scope: everything up to punctuation, "but" or the end of the text.
_NEGATION = re.compile(
    r"(?<![\w])(?:not|no|never|nothing|nobody|none|nor|neither|cannot|without|hardly|barely|"
    + _NOT_WORDS
    + r")\b([^.,;:!?\x00]*)"
)
_BUT = re.compile(r"\bbut\b")


def _negate(match: re.Match[str]) -> str:
    # negated words are upper-cased: same byte length, so char n-grams can lower them back
    cue_len = match.start(1) - match.start()
    scope = match.group(1)
    but = _BUT.search(scope)
    if but:
        return match.group(0)[:cue_len] + scope[: but.start()].upper() + scope[but.start() :]
    return match.group(0)[:cue_len] + scope.upper()


def _normalise(texts: Sequence[Any]) -> str:
    """One lower-cased string of all texts joined by NUL, with negation scopes upper-cased."""
    joined = "\x00".join("" if t is None or t != t else str(t).replace("\x00", " ") for t in texts)
    s = joined.lower()
    if "&" in s or "<" in s:
        s = _HTML.sub(lambda m: {"&amp;": "&", "&lt;": "<", "&gt;": ">"}.get(m.group(0), " "), s)
    s = _URL.sub(" ", s)  # links and @mentions carry no sentiment (and "user", "url" do in reviews)
    s = _MENTION.sub(" ", s)
    s = s.replace("#", "").replace("’", "'").replace("n't", " not")
    s = _NEGATION.sub(_negate, s)
    return " " + s.replace("\x00", " \x00 ") + " "


def _mix(h: np.ndarray, salt: int, bits: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return (((h ^ np.uint64(salt)) * _M64) >> np.uint64(64 - bits)).astype(np.int64)


_PINV = np.uint64(pow(int(_P), -1, 2**64))
_POW_CACHE: dict[str, np.ndarray] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i modulo 2**64 for i in [0, n], cached and grown as needed."""
    have = _POW_CACHE.get("p")
    if have is None or have.size <= n:
        size = max(n + 1, 1 << 16, 0 if have is None else 2 * have.size)
        with np.errstate(over="ignore"):
            p = np.cumprod(np.full(size, _P, dtype=np.uint64), dtype=np.uint64)
            q = np.cumprod(np.full(size, _PINV, dtype=np.uint64), dtype=np.uint64)
        _POW_CACHE["p"] = np.concatenate(([np.uint64(1)], p[:-1]))
        _POW_CACHE["q"] = np.concatenate(([np.uint64(1)], q[:-1]))
    return _POW_CACHE["p"], _POW_CACHE["q"]


def featurise(texts: Sequence[Any], bits: int, char_ngrams: tuple[int, ...] = (3, 4, 5)) -> dict[str, np.ndarray]:
    """Hashed feature occurrences of a batch, as parallel arrays.

    Returns ``rows`` and ``cols`` (row index and hashed column of every occurrence) and
    ``vals`` (its weight: 1/sqrt(occurrences of its block in that row), so each block — words
    and characters — is normalised separately).
    """
    n_docs = len(texts)
    s = _normalise(texts)
    b = np.frombuffer(s.encode("utf-8"), dtype=np.uint8).copy()
    b[(b == 9) | (b == 10) | (b == 13)] = 32  # tabs and newlines are spaces
    n = b.size
    doc = np.cumsum(b == 0)  # document index of every byte (NULs separate documents)
    upper = (b >= 65) & (b <= 90)
    low = np.where(upper, b + 32, b).astype(np.uint64)
    cased = b.astype(np.uint64)
    # prefix hashes H[i] = sum_{j<i} b[j] * P**j (mod 2**64); the span [a, e) hashes to
    # (H[e] - H[a]) * P**-a, which depends only on its bytes, not on where it starts
    pw, pinv = _powers(n)
    with np.errstate(over="ignore"):
        hl = np.zeros(n + 1, dtype=np.uint64)
        hc = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(low * pw[:n], dtype=np.uint64, out=hl[1:])
        np.cumsum(cased * pw[:n], dtype=np.uint64, out=hc[1:])

    def span_hash(h: np.ndarray, a: np.ndarray, e: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (h[e] - h[a]) * pinv[a]

    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    # words: runs of letters, digits, apostrophes, underscores and non-ASCII bytes; ! and ? alone
    is_word = (
        ((b >= 97) & (b <= 122)) | upper | ((b >= 48) & (b <= 57)) | (b == 39) | (b == 95) | (b == 64) | (b >= 128)
    )
    prev = np.concatenate(([False], is_word[:-1]))
    nxt = np.concatenate((is_word[1:], [False]))
    starts = np.flatnonzero(is_word & ~prev)
    ends = np.flatnonzero(is_word & ~nxt) + 1
    bang = np.flatnonzero((b == 33) | (b == 63))
    t_start = np.concatenate((starts, bang))
    t_end = np.concatenate((ends, bang + 1))
    order = np.argsort(t_start, kind="stable")
    t_start, t_end = t_start[order], t_end[order]
    t_doc = doc[t_start]
    th = span_hash(hc, t_start, t_end)
    same = t_doc[1:] == t_doc[:-1]
    with np.errstate(over="ignore"):
        bi = th[:-1][same] * _P + th[1:][same]
    w_rows = np.concatenate((t_doc, t_doc[:-1][same]))
    w_cols = np.concatenate((_mix(th, _SALT["w1"], bits), _mix(bi, _SALT["w2"], bits)))
    rows.append(w_rows)
    cols.append(w_cols)
    w_count = np.bincount(w_rows, minlength=n_docs).astype(np.float32)
    vals.append((1.0 / np.sqrt(np.maximum(w_count, 1)))[w_rows])

    # characters: n-grams of the lower-cased text that do not cross a document boundary
    zeros = np.concatenate(([0], np.cumsum(b == 0)))
    c_rows_l, c_cols_l = [], []
    for k in char_ngrams:
        if n < k:
            continue
        a = np.arange(n - k + 1)
        ok = zeros[a + k] == zeros[a]
        a = a[ok]
        c_rows_l.append(doc[a])
        c_cols_l.append(_mix(span_hash(hl, a, a + k) + np.uint64(k), _SALT["c"], bits))
    if c_rows_l:
        c_rows = np.concatenate(c_rows_l)
        rows.append(c_rows)
        cols.append(np.concatenate(c_cols_l))
        c_count = np.bincount(c_rows, minlength=n_docs).astype(np.float32)
        vals.append((1.0 / np.sqrt(np.maximum(c_count, 1)))[c_rows])
    return {
        "rows": np.concatenate(rows),
        "cols": np.concatenate(cols),
        "vals": np.concatenate(vals).astype(np.float32),
    }


def feature_matrix(texts: Sequence[Any], bits: int, char_ngrams: tuple[int, ...] = (3, 4, 5)):
    """The hashed features of ``texts`` as a SciPy CSR matrix (used for training)."""
    from scipy import sparse

    f = featurise(texts, bits, char_ngrams)
    return sparse.csr_matrix((f["vals"], (f["rows"], f["cols"])), shape=(len(texts), 2**bits), dtype=np.float32)


def _frame(probs: np.ndarray) -> pd.DataFrame:
    p_neg, p_neu, p_pos = probs[:, 0], probs[:, 1], probs[:, 2]
    label = np.asarray(CLASSES, dtype=object)[probs.argmax(axis=1)]
    label[(p_neg >= MIXED_MIN) & (p_pos >= MIXED_MIN)] = "mixed"
    return pd.DataFrame(
        {
            "score": (p_pos - p_neg).astype(np.float64),
            "label": label,
            "p_negative": p_neg.astype(np.float64),
            "p_neutral": p_neu.astype(np.float64),
            "p_positive": p_pos.astype(np.float64),
        }
    )


class SentimentModel:
    """Hashed-n-gram multinomial logistic regression for negative / neutral / positive.

    Parameters
    ----------
    bits : int
        The hashing space has ``2**bits`` columns.
    char_ngrams : tuple of int
        Character n-gram lengths.
    C : float
        Inverse L2 regularisation strength used by :meth:`fit`.
    seed : int
        Random state handed to the solver by :meth:`fit`.

    Notes
    -----
    ``score = P(positive) − P(negative)``; ``label`` is the most probable class, except
    ``mixed`` when both P(positive) and P(negative) are at least :data:`MIXED_MIN`.
    Training (:meth:`fit`) needs scikit-learn; scoring needs only NumPy.

    Examples
    --------
    >>> m = SentimentModel.load()
    >>> m.score(["not good", "I love it"])["label"].tolist()
    ['negative', 'positive']
    """

    name = "cxlens"

    def __init__(self, bits: int = 18, char_ngrams: tuple[int, ...] = (3, 5), C: float = 4.0, seed: int = 0):
        self.bits = bits
        self.char_ngrams = tuple(char_ngrams)
        self.C = C
        self.seed = seed

    # -- training and persistence -------------------------------------------------
    def fit(
        self, texts: Sequence[str], labels: Sequence[str], sample_weight: np.ndarray | None = None
    ) -> SentimentModel:
        """Fit on ``texts`` with ``labels`` from :data:`CLASSES`; classes are balanced."""
        try:
            from sklearn.linear_model import LogisticRegression
        except ImportError:  # pragma: no cover - dev dependency
            raise MissingExtraError("scikit-learn", "dev") from None
        y = np.asarray(labels, dtype=object)
        bad = sorted(set(y) - set(CLASSES))
        if bad:
            raise ConfigError(f"sentiment label {bad[0]!r} is unknown; expected one of {', '.join(CLASSES)}")
        X = feature_matrix(texts, self.bits, self.char_ngrams)
        yi = np.searchsorted(np.asarray(CLASSES), y.astype(str))
        counts = np.bincount(yi, minlength=3).astype(np.float64)
        w = (len(yi) / (3 * counts))[yi]
        if sample_weight is not None:
            w = w * np.asarray(sample_weight, dtype=np.float64)
        clf = LogisticRegression(C=self.C, max_iter=400, tol=1e-4, random_state=self.seed)
        clf.fit(X, yi, sample_weight=w)
        self.coef_ = clf.coef_.T.astype(np.float16).astype(np.float32)  # (2**bits, 3), as shipped
        self.intercept_ = clf.intercept_.astype(np.float32)
        self.meta_: dict[str, Any] = {}
        return self

    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise ConfigError("SentimentModel is not fitted yet. Call 'fit' first or use SentimentModel.load().")

    def save(self, path: str | Path, **meta: Any) -> Path:
        """Write the weights (float16) and settings to an ``.npz`` file."""
        self._check()
        info = {"bits": self.bits, "char_ngrams": list(self.char_ngrams), "C": self.C, "seed": self.seed}
        info.update(self.meta_)
        info.update(meta)
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as fh:
            np.savez_compressed(
                fh,
                coef=self.coef_.astype(np.float16),
                intercept=self.intercept_,
                meta=np.frombuffer(json.dumps(info, sort_keys=True).encode(), dtype=np.uint8),
            )
        return p

    @classmethod
    def load(cls, path: str | Path | None = None) -> SentimentModel:
        """Load weights written by :meth:`save`; the shipped ``sentiment-v1`` by default."""
        p = Path(path) if path is not None else DEFAULT_WEIGHTS
        if not p.exists():
            raise ConfigError(f"sentiment weights {str(p)!r} do not exist; run scripts/train_sentiment.py")
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            m = cls(bits=meta["bits"], char_ngrams=tuple(meta["char_ngrams"]), C=meta["C"], seed=meta["seed"])
            m.coef_ = z["coef"].astype(np.float32)
            m.intercept_ = z["intercept"].astype(np.float32)
        m.meta_ = meta
        return m

    # -- scoring --------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[str | None]) -> np.ndarray:
        """P(negative), P(neutral), P(positive) for each text, shape (n, 3)."""
        self._check()
        n = len(texts)
        if n == 0:
            return np.zeros((0, 3), dtype=np.float32)
        f = featurise(texts, self.bits, self.char_ngrams)
        if getattr(self, "_coef_t", None) is None or self._coef_t.shape[1] != self.coef_.shape[0]:
            self._coef_t = np.ascontiguousarray(self.coef_.T)  # one small table per class: cache-friendly
        rows, cols, vals = f["rows"], f["cols"], f["vals"]
        logits = np.empty((n, 3), dtype=np.float64)
        for k in range(3):
            logits[:, k] = np.bincount(rows, weights=self._coef_t[k][cols] * vals, minlength=n)
        logits += self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def score(self, texts: Sequence[str | None], batch_size: int = 20_000) -> pd.DataFrame:
        """The standard sentiment frame (see :class:`SentimentAnalyzer`) for ``texts``."""
        texts = list(texts)
        parts = [self.predict_proba(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        probs = np.concatenate(parts) if parts else np.zeros((0, 3))
        return _frame(probs)


@functools.lru_cache(maxsize=1)
def default_model() -> SentimentModel:
    """The shipped model, loaded once per process."""
    return SentimentModel.load()


class VaderAnalyzer:
    """VADER (Hutto & Gilbert, ICWSM 2014) behind the :class:`SentimentAnalyzer` interface.

    ``score`` is VADER's compound score; the label uses the standard thresholds
    (compound ≥ 0.05 positive, ≤ −0.05 negative, else neutral); the probability columns are
    VADER's ``neg``/``neu``/``pos`` proportions. VADER never says ``mixed``.
    """

    name = "vader"

    def __init__(self, threshold: float = 0.05):
        try:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError:  # pragma: no cover - declared dependency
            raise MissingExtraError("vaderSentiment", "voice") from None
        self.threshold = threshold
        self._sia = SentimentIntensityAnalyzer()

    def score(self, texts: Sequence[str | None]) -> pd.DataFrame:
        ps = self._sia.polarity_scores
        res = [ps("" if t is None or t != t else str(t)) for t in texts]
        compound = np.array([r["compound"] for r in res], dtype=np.float64)
        label = np.where(
            compound >= self.threshold, "positive", np.where(compound <= -self.threshold, "negative", "neutral")
        )
        return pd.DataFrame(
            {
                "score": compound,
                "label": label.astype(object),
                "p_negative": np.array([r["neg"] for r in res], dtype=np.float64),
                "p_neutral": np.array([r["neu"] for r in res], dtype=np.float64),
                "p_positive": np.array([r["pos"] for r in res], dtype=np.float64),
            }
        )


def analyse_sentiment(texts: Sequence[str | None], analyzer: SentimentAnalyzer | None = None) -> pd.DataFrame:
    """Score ``texts`` with ``analyzer`` (the shipped model by default).

    Examples
    --------
    >>> analyse_sentiment(["not good"])["label"].tolist()
    ['negative']
    """
    return (analyzer or default_model()).score(list(texts))


def score_file(
    path: str | Path,
    text_column: str = "text",
    fmt: str = "csv",
    out: str | Path | None = None,
    analyzer: SentimentAnalyzer | None = None,
) -> pd.DataFrame:
    """Score every row of a CSV/JSONL/Parquet file and write it back with sentiment columns.

    Every input row and column is kept; ``sentiment_score`` and ``sentiment_label`` are added.
    ``fmt`` is the output format, ``csv`` or ``json`` (JSON Lines); with ``out=None`` nothing is
    written. Returns the scored frame.
    """
    from cxlens.ingest.files import read_file

    if fmt not in ("csv", "json"):
        raise ConfigError(f"output format {fmt!r} is unknown; expected 'csv' or 'json'")
    frame = read_file(path)
    if text_column not in frame.columns:
        cols = ", ".join(map(str, frame.columns))
        raise SchemaError(
            f"{Path(path).name} has no column {text_column!r} (columns: {cols}); pass the text column with --text-column"
        )
    res = analyse_sentiment(frame[text_column].tolist(), analyzer)
    frame = frame.copy()
    frame["sentiment_score"] = res["score"].round(4).to_numpy()
    frame["sentiment_label"] = res["label"].to_numpy()
    if out is not None:
        o = Path(out)
        if fmt == "csv":
            frame.to_csv(o, index=False)
        else:
            frame.to_json(o, orient="records", lines=True, force_ascii=False)
    return frame
