"""Sentiment of customer text: the shipped linear model, a VADER baseline, and file scoring.

The default :class:`SentimentModel` is a multinomial logistic regression over hashed features
(word unigrams and bigrams with negation scopes, character 3–5-grams), trained by
``scripts/train_sentiment.py`` on permissively licensed review text only and shipped as plain
NumPy weights (``models/sentiment-v4.npz``). Inference needs only NumPy: every text of a batch
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
from typing import Any, NamedTuple, Protocol, runtime_checkable

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
DEFAULT_WEIGHTS = Path(__file__).with_name("models") / "sentiment-v4.npz"

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
#: Words that open a negation scope: every later word up to punctuation, "but" or the end of the
#: text is marked as negated ("n't" is rewritten to " not" first).
NEGATION_CUES = (
    "not no never nothing nobody none nor neither cannot without hardly barely "
    "dont didnt doesnt isnt wasnt arent werent cant wont couldnt wouldnt shouldnt havent hasnt hadnt aint"
).split()
_NEG_SALT = np.uint64(0x6E6567)
_LEN_SALT = 0x1E6
_LEX_SALT = 0x1E71C0
#: Upper bounds of the text-length buckets (in word tokens): a short-text signal.
_LEN_BUCKETS = np.array([2, 4, 8, 16, 32])


#: Code points deleted before emoji are named: variation selectors, skin tones, zero-width joiner.
_EMOJI_DROP = (0xFE0E, 0xFE0F, 0x200D, *range(0x1F3FB, 0x1F400))


def _normalise(texts: Sequence[Any], symbols: Symbols | None = None) -> str:
    """One lower-cased string of all texts joined by NUL (links, @mentions and HTML removed).

    With ``symbols`` (:func:`symbol_tables`), every emoji becomes its name in words and every
    emoticon of VADER's lexicon a word-like token (``emopos2``, ``emoneg3``, …).
    """
    texts = ["" if t is None or t != t else str(t).replace("\x00", " ") for t in texts]
    if symbols is not None:  # emoji: translate only the texts that have a non-ASCII character
        emoji = symbols.emoji
        texts = [t if t.isascii() else t.translate(emoji) for t in texts]
    s = "\x00".join(texts).lower()
    if "&" in s or "<" in s:
        s = _HTML.sub(lambda m: {"&amp;": "&", "&lt;": "<", "&gt;": ">"}.get(m.group(0), " "), s)
    if "http" in s or "www." in s:
        s = _URL.sub(" ", s)  # links and @mentions carry no sentiment (and "user", "url" do in reviews)
    if "@" in s:
        s = _MENTION.sub(" ", s)
    if symbols is not None:
        emoticons = symbols.emoticons
        s = symbols.pattern.sub(lambda m: emoticons.get(m.group(0), m.group(0)), s)
    s = s.replace("#", "").replace("\u2019", "'").replace("n't", " not")
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


def _word_hash(word: str) -> int:
    """The span hash of ``word`` (as :func:`featurise` computes it for a token)."""
    return sum(c * pow(int(_P), j, 2**64) for j, c in enumerate(word.encode())) % 2**64


_CUE_HASHES = np.array(sorted(_word_hash(w) for w in NEGATION_CUES), dtype=np.uint64)
_BUT_HASH = np.uint64(_word_hash("but"))
_BOUNDARY = np.zeros(256, dtype=bool)
_BOUNDARY[[0, ord("."), ord(","), ord(";"), ord(":"), ord("!"), ord("?")]] = True
_WORD_BYTE = np.zeros(256, dtype=bool)
for _lo, _hi in ((97, 122), (48, 57), (128, 255)):
    _WORD_BYTE[_lo : _hi + 1] = True
_WORD_BYTE[[39, 95, 64]] = True  # ' _ @
_BYTE_CLASS = np.where(_WORD_BYTE, 1, np.where(_BOUNDARY, 2, 0)).astype(np.uint8)


class Symbols(NamedTuple):
    """Emoji and emoticon tables of :func:`_normalise`: ``emoji`` is a ``str.translate`` table
    (code point → " its name "), ``emoticons`` maps a lower-cased emoticon to " emo<sign><1-4> ",
    ``pattern`` finds the candidates: a run of 2–6 characters between spaces (or text boundaries)
    that starts with the first character of some emoticon (the class first, so ``re`` skips fast)."""

    emoji: dict[int, str | None]
    emoticons: dict[str, str]
    pattern: re.Pattern[str]


def _vader_file(name: str) -> Path:
    import vaderSentiment

    return Path(vaderSentiment.__file__).with_name(name)


def emoticon_token(valence: float) -> str:
    """The word-like token an emoticon of VADER valence ``valence`` becomes (``emopos2``, ``emoneg1``…)."""
    return f"emo{'pos' if valence > 0 else 'neg'}{min(4, max(1, round(abs(valence))))}"


def emoticons_and_emoji() -> tuple[dict[str, str], dict[str, str]]:
    """VADER's (MIT) emoticons, lower-cased, as {emoticon: token}, and its emoji names as {emoji: name}.

    Emoticons are the lexicon entries that are not words (``:)``, ``:-(``, ``<3``…) with a valence
    of at least 0.5 either way, except the three that start with "." or "," (else every ellipsis
    would be a candidate to look up); only single-code-point emoji are kept (a translate table's unit).
    """
    emoticons: dict[str, list[float]] = {}
    for line in _vader_file("vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        e = parts[0]
        if len(parts) < 2 or not 2 <= len(e) <= 6 or e[0].isalnum() or e[0] in ".," or any(c.isspace() for c in e):
            continue
        emoticons.setdefault(parts[0].lower(), []).append(float(parts[1]))
    tokens = {k: emoticon_token(float(np.mean(v))) for k, v in emoticons.items() if abs(np.mean(v)) >= 0.5}
    emoji = {}
    for line in _vader_file("emoji_utf8_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            emoji[parts[0]] = parts[1].strip().lower()
    return dict(sorted(tokens.items())), dict(sorted(emoji.items()))


def symbol_tables(emoticons: dict[str, str], emoji: dict[str, str]) -> Symbols:
    """The :class:`Symbols` of :func:`_normalise` from the maps :func:`emoticons_and_emoji` returns."""
    table: dict[int, str | None] = {ord(e): f" {name} " for e, name in emoji.items()}
    table.update(dict.fromkeys(_EMOJI_DROP))
    first = re.escape("".join(sorted({k[0] for k in emoticons}))) or "\x01"
    pattern = re.compile(f"[{first}](?<![^\\s\\x00].)[^\\s\\x00]{{1,5}}(?![^\\s\\x00])")
    return Symbols(table, {k: f" {v} " for k, v in emoticons.items()}, pattern)


def lexicon_arrays(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """VADER's word valences (MIT licence) as (sorted token hashes, valences) for :func:`featurise`.

    Read from ``vader_lexicon.txt`` of the installed ``vaderSentiment`` package by default; only
    entries that are one token for :func:`featurise` (letters, digits, apostrophes) are kept, plus
    the emoticon tokens of :func:`emoticon_token` (``emopos2`` has valence 2, ``emoneg3`` −3).
    """
    if path is None:
        path = _vader_file("vader_lexicon.txt")
    words: dict[int, float] = {}
    for k in range(1, 5):
        words[_word_hash(f"emopos{k}")] = float(k)
        words[_word_hash(f"emoneg{k}")] = -float(k)
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not re.fullmatch(r"[a-z0-9'_]+", parts[0]):
            continue
        words[_word_hash(parts[0])] = float(parts[1])
    keys = np.array(sorted(words), dtype=np.uint64)
    return keys, np.array([words[int(k)] for k in keys], dtype=np.float32)


def _lexicon_features(
    th: np.ndarray, negated: np.ndarray, t_doc: np.ndarray, n_docs: int, lexicon: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per text: log1p of the positive and negative valence sums (negated words flipped, ×0.74 as
    VADER does) and a flag for texts with no lexicon word; as (rows, values) of 3 feature blocks."""
    keys, vals = lexicon
    pos = np.searchsorted(keys, th)
    pos[pos >= keys.size] = 0
    hit = keys[pos] == th if keys.size else np.zeros(th.size, dtype=bool)
    v = np.where(hit, vals[pos] if keys.size else 0.0, 0.0) * np.where(negated, -0.74, 1.0)
    p_sum = np.bincount(t_doc, weights=np.maximum(v, 0), minlength=n_docs)
    n_sum = np.bincount(t_doc, weights=np.maximum(-v, 0), minlength=n_docs)
    none = np.bincount(t_doc, weights=hit, minlength=n_docs) == 0
    return np.log1p(p_sum), np.log1p(n_sum), none.astype(np.float64)


def featurise(
    texts: Sequence[Any],
    bits: int,
    char_ngrams: tuple[int, ...] = (4,),
    lexicon: tuple[np.ndarray, np.ndarray] | None = None,
    symbols: Symbols | None = None,
) -> dict[str, np.ndarray]:
    """Hashed feature occurrences of a batch, as parallel arrays.

    Returns ``rows`` and ``cols`` (row index and hashed column of every occurrence) and
    ``vals`` (its weight: 1/sqrt(occurrences of its block in that row), so each block — words
    and characters — is normalised separately). Word features are unigrams and bigrams of the
    tokens, negated tokens hashed apart, plus one text-length bucket; character features are
    n-grams of the lower-cased text that do not cross a text boundary. With ``lexicon`` (from
    :func:`lexicon_arrays`), three more columns per text carry its lexicon valence sums; with
    ``symbols`` (:func:`symbol_tables`) emoji are read as their names and emoticons as tokens.
    """
    n_docs = len(texts)
    s = _normalise(texts, symbols)
    b = np.frombuffer(s.encode("utf-8"), dtype=np.uint8)
    n = b.size
    is_nul = b == 0
    doc = np.cumsum(is_nul)  # document index of every byte (NULs separate documents)
    # prefix hashes H[i] = sum_{j<i} b[j] * P**j (mod 2**64); the span [a, e) hashes to
    # (H[e] - H[a]) * P**-a, which depends only on its bytes, not on where it starts
    pw, pinv = _powers(n)
    with np.errstate(over="ignore"):
        hl = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(b * pw[:n], dtype=np.uint64, out=hl[1:])

    def span_hash(a: np.ndarray, e: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (hl[e] - hl[a]) * pinv[a]

    # words: runs of letters, digits, apostrophes, underscores and non-ASCII bytes; ! and ? alone
    cls = _BYTE_CLASS[b]  # one table lookup: 1 word byte, 2 clause boundary, 0 other
    is_word = cls == 1
    edge = np.diff(is_word.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edge == 1)
    ends = np.flatnonzero(edge == -1)
    bang = np.flatnonzero((b == 33) | (b == 63))
    # merge the two sorted position lists without a sort
    at_w = np.arange(starts.size) + np.searchsorted(bang, starts)
    at_b = np.arange(bang.size) + np.searchsorted(starts, bang)
    t_start = np.empty(starts.size + bang.size, dtype=np.int64)
    t_end = np.empty_like(t_start)
    t_start[at_w], t_end[at_w] = starts, ends
    t_start[at_b], t_end[at_b] = bang, bang + 1
    t_doc = doc[t_start]
    th = span_hash(t_start, t_end)
    # negation scopes, vectorised: a clause ends at punctuation, a text boundary or "but"; a
    # token is negated when a cue precedes it in its clause
    bound = np.cumsum(cls == 2)
    clause = bound[t_start] + np.cumsum(th == _BUT_HASH)
    k = np.minimum(np.searchsorted(_CUE_HASHES, th), _CUE_HASHES.size - 1)
    cue = (_CUE_HASHES[k] == th).astype(np.int32)
    before = np.cumsum(cue) - cue  # cues strictly before each token
    new_clause = np.flatnonzero(np.diff(clause, prepend=clause[:1] - 1))
    run = np.cumsum(np.diff(clause, prepend=clause[:1] - 1) != 0) - 1
    negated = (before - before[new_clause][run]) > 0 if th.size else np.zeros(0, dtype=bool)
    th_plain = th
    th = np.where(negated, th ^ _NEG_SALT, th)
    same = t_doc[1:] == t_doc[:-1]
    with np.errstate(over="ignore"):
        bi = th[:-1][same] * _P + th[1:][same]
    n_tok = np.bincount(t_doc, minlength=n_docs)
    length = np.searchsorted(_LEN_BUCKETS, n_tok).astype(np.uint64)
    w_rows = np.concatenate((t_doc, t_doc[:-1][same], np.arange(n_docs)))
    w_cols = np.concatenate((_mix(th, _SALT["w1"], bits), _mix(bi, _SALT["w2"], bits), _mix(length, _LEN_SALT, bits)))
    rows = [w_rows]
    cols = [w_cols]
    w_count = np.bincount(w_rows, minlength=n_docs).astype(np.float32)
    vals = [(1.0 / np.sqrt(w_count))[w_rows]]
    if lexicon is not None:
        docs = np.arange(n_docs)
        for k, v in enumerate(_lexicon_features(th_plain, negated, t_doc, n_docs, lexicon)):
            rows.append(docs)
            cols.append(_mix(np.full(n_docs, k, dtype=np.uint64), _LEX_SALT, bits))
            vals.append(v.astype(np.float32))

    # characters: n-grams of the lower-cased text that do not cross a document boundary
    zeros = np.concatenate(([0], doc))
    c_rows_l, c_cols_l = [], []
    for k in char_ngrams:
        if n < k:
            continue
        a = np.flatnonzero(zeros[k:] == zeros[: n - k + 1])
        c_rows_l.append(doc[a])
        c_cols_l.append(_mix(span_hash(a, a + k) + np.uint64(k), _SALT["c"], bits))
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


def feature_matrix(
    texts: Sequence[Any],
    bits: int,
    char_ngrams: tuple[int, ...] = (4,),
    lexicon: tuple[np.ndarray, np.ndarray] | None = None,
    symbols: Symbols | None = None,
):
    """The hashed features of ``texts`` as a SciPy CSR matrix (used for training)."""
    from scipy import sparse

    f = featurise(texts, bits, char_ngrams, lexicon, symbols)
    return sparse.csr_matrix((f["vals"], (f["rows"], f["cols"])), shape=(len(texts), 2**bits), dtype=np.float32)


def label_frame(probs: np.ndarray) -> pd.DataFrame:
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
    lexicon : bool
        Add VADER's word valences as three features (:func:`lexicon_arrays`).
    symbols : bool
        Read emoji as their names and VADER's emoticons as tokens (:func:`emoticons_and_emoji`).

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

    def __init__(
        self,
        bits: int = 18,
        char_ngrams: tuple[int, ...] = (4,),
        C: float = 4.0,
        seed: int = 0,
        lexicon: bool = True,
        symbols: bool = False,
    ):
        self.bits = bits
        self.char_ngrams = tuple(char_ngrams)
        self.lexicon = lexicon
        self.lexicon_: tuple[np.ndarray, np.ndarray] | None = None
        self.symbols = symbols
        #: (emoticons, emoji) maps of :func:`emoticons_and_emoji`, stored in the weights' metadata
        self.symbol_maps_: tuple[dict[str, str], dict[str, str]] | None = None
        self._symbols: Symbols | None = None
        self.C = C
        self.seed = seed

    # -- training and persistence -------------------------------------------------
    def fit(
        self, texts: Sequence[str], labels: Sequence[str], sample_weight: np.ndarray | None = None
    ) -> SentimentModel:
        """Fit on ``texts`` with ``labels`` from :data:`CLASSES`.

        Classes are balanced after ``sample_weight``: each class gets the same total weight.
        """
        try:
            from sklearn.linear_model import LogisticRegression
        except ImportError:  # pragma: no cover - dev dependency
            raise MissingExtraError("scikit-learn", "dev") from None
        y = np.asarray(labels, dtype=object)
        bad = sorted(set(y) - set(CLASSES))
        if bad:
            raise ConfigError(f"sentiment label {bad[0]!r} is unknown; expected one of {', '.join(CLASSES)}")
        self.lexicon_ = lexicon_arrays() if self.lexicon else None
        self._set_symbols(emoticons_and_emoji() if self.symbols else None)
        X = feature_matrix(texts, self.bits, self.char_ngrams, self.lexicon_, self._symbols)
        yi = np.searchsorted(np.asarray(CLASSES), y.astype(str))
        sw = np.ones(len(yi)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        mass = np.bincount(yi, weights=sw, minlength=3)  # balanced after the sample weights
        w = (sw.sum() / (3 * np.where(mass > 0, mass, 1.0)))[yi] * sw
        clf = LogisticRegression(C=self.C, max_iter=400, tol=1e-4, random_state=self.seed)
        clf.fit(X, yi, sample_weight=w)
        self.coef_ = clf.coef_.T.astype(np.float16).astype(np.float32)  # (2**bits, 3), as shipped
        self.intercept_ = clf.intercept_.astype(np.float32)
        self.meta_: dict[str, Any] = {}
        return self

    def _set_symbols(self, maps: tuple[dict[str, str], dict[str, str]] | None) -> None:
        self.symbol_maps_ = maps
        self._symbols = None if maps is None else symbol_tables(*maps)

    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise ConfigError("SentimentModel is not fitted yet. Call 'fit' first or use SentimentModel.load().")

    def save(self, path: str | Path, **meta: Any) -> Path:
        """Write the weights (float16) and settings to an ``.npz`` file."""
        self._check()
        info = {
            "bits": self.bits,
            "char_ngrams": list(self.char_ngrams),
            "C": self.C,
            "seed": self.seed,
            "lexicon": self.lexicon_ is not None,
        }
        if self.symbol_maps_ is not None:
            info["emoticons"], info["emoji"] = self.symbol_maps_
        lex = self.lexicon_ or (np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.float32))
        info.update(self.meta_)
        info.update(meta)
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        _write_npz(
            p,
            coef=self.coef_.astype(np.float16),
            intercept=self.intercept_,
            lexicon_keys=lex[0],
            lexicon_values=lex[1].astype(np.float16),
            meta=np.frombuffer(json.dumps(info, sort_keys=True).encode(), dtype=np.uint8),
        )
        return p

    @classmethod
    def load(cls, path: str | Path | None = None) -> SentimentModel:
        """Load weights written by :meth:`save`; the shipped ``sentiment-v4`` by default."""
        p = Path(path) if path is not None else DEFAULT_WEIGHTS
        if not p.exists():
            raise ConfigError(f"sentiment weights {str(p)!r} do not exist; run scripts/train_sentiment.py")
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            m = cls(
                bits=meta["bits"],
                char_ngrams=tuple(meta["char_ngrams"]),
                C=meta["C"],
                seed=meta["seed"],
                lexicon=bool(meta.get("lexicon", False)),
                symbols="emoticons" in meta,
            )
            if m.symbols:
                m._set_symbols((meta["emoticons"], meta["emoji"]))
            if m.lexicon:
                m.lexicon_ = (z["lexicon_keys"].astype(np.uint64), z["lexicon_values"].astype(np.float32))
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
        f = featurise(texts, self.bits, self.char_ngrams, self.lexicon_, self._symbols)
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
        return label_frame(probs)


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    """``numpy.savez_compressed`` with fixed member timestamps, so equal arrays give equal bytes."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


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
    themes: int | str | None = None,
) -> pd.DataFrame:
    """Score every row of a CSV/JSONL/Parquet file and write it back with sentiment columns.

    Every input row and column is kept; ``sentiment_score`` and ``sentiment_label`` are added.
    With ``themes`` (a number of themes or ``"auto"``) a :class:`~cxlens.voice.themes.ThemeExtractor`
    is fitted on the file's texts and ``theme``, ``theme_name``, ``subtheme`` and ``subtheme_name``
    are added too; a row without a theme (a general remark, or no known word) gets theme
    ``"other"`` and theme_name ``"Other (no theme)"`` (:data:`~cxlens.voice.themes.OTHER_ID`), and an
    empty sub-theme, as do rows of themes without sub-themes. ``fmt`` is the output format, ``csv`` or
    ``json`` (JSON Lines); with ``out=None`` nothing is written. Returns the scored frame.
    """
    from cxlens.ingest.files import read_file

    if fmt not in ("csv", "json"):
        raise ConfigError(f"output format {fmt!r} is unknown; expected 'csv' or 'json'")
    from cxlens.voice.themes import parse_n_themes

    n_themes = parse_n_themes(themes)
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
    if n_themes is not None:
        from cxlens.voice.themes import ThemeExtractor, with_other

        texts = frame[text_column].tolist()
        try:
            assigned = ThemeExtractor(n_themes=n_themes).fit(texts).assign(texts)
        except ConfigError as exc:
            raise ConfigError(
                f"{Path(path).name}: themes could not be fitted on column {text_column!r}: {exc}"
            ) from None
        assigned = with_other(assigned)  # no theme: "other" / "Other (no theme)", not an empty cell
        for col in ("theme", "theme_name", "subtheme", "subtheme_name"):
            frame[col] = assigned[col].to_numpy()
    if out is not None:
        o = Path(out)
        if fmt == "csv":
            frame.to_csv(o, index=False)
        else:
            frame.to_json(o, orient="records", lines=True, force_ascii=False)
    return frame
