"""Theme discovery in verbatims: TF-IDF + NMF (or k-means), user rules, merge/rename/pin, JSON.

A theme is a unit vector over the TF-IDF vocabulary. Discovered themes are the rows of an NMF
factorisation ``X ≈ W·H`` of the L2-normalised TF-IDF matrix (Lee & Seung 1999; Févotte &
Idier 2011 for the solver scikit-learn uses) or the centroids of spherical k-means on the same
matrix. A verbatim's score for a theme is the cosine between its TF-IDF vector and the theme
vector, so the same rule scores training and new text, survives a JSON round trip exactly and
gives a natural "closest to the centroid" order for representative quotes.

User rules (keyword or regular expression lists) take precedence: a verbatim that matches a
rule gets the rule's theme as its primary theme (first matching rule in the order given) and a
score of 1.0 for it; discovered themes are then only secondary labels.

The number of themes is a parameter (``n_themes``); ``n_themes="auto"`` picks, among
``auto_range``, the k whose themes have the highest mean NPMI coherence on the fitted corpus
(:func:`coherence`), the criterion reported in ``docs/voice-themes.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cxlens.errors import ConfigError, NotFoundError

__all__ = ["ThemeExtractor", "coherence", "clean_text"]

FORMAT = "cxlens.themes/1"
_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_ENTITY = re.compile(r"&(amp|lt|gt|quot);")
#: words of two or more letters (numbers and underscores are not keywords)
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
#: a theme vector keeps at most this many terms (bounds the JSON size; applied in fit too)
MAX_TERMS = 400


def clean_text(text: Any) -> str:
    """Lower-case ``text`` and drop URLs, @handles and HTML entities (``None`` → ``""``)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    s = _ENTITY.sub(" ", str(text))
    return _HANDLE.sub(" ", _URL.sub(" ", s)).lower()


def compile_rules(rules: Mapping[str, Iterable[str]] | None) -> dict[str, list[re.Pattern[str]]]:
    out: dict[str, list[re.Pattern[str]]] = {}
    for name, patterns in (rules or {}).items():
        if isinstance(patterns, str):
            patterns = [patterns]
        compiled = []
        for p in patterns:
            # a plain keyword matches as a whole word; anything with regex syntax is used as is
            src = rf"\b{re.escape(p)}\b" if re.fullmatch(r"[\w' -]+", p) else p
            try:
                compiled.append(re.compile(src, re.IGNORECASE))
            except re.error as exc:
                raise ConfigError(
                    f"rule {name!r} pattern {p!r} is not a valid regular expression ({exc}); fix or escape it"
                ) from None
        if not compiled:
            raise ConfigError(f"rule {name!r} has no patterns; give at least one keyword or regex")
        out[str(name)] = compiled
    return out


def _texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise ConfigError(f"texts is a single string {texts[:40]!r}; expected a sequence of texts, e.g. [text]")
    return [clean_text(t) for t in texts]


class ThemeExtractor:
    """Discover themes in short customer texts and assign them to new texts.

    Parameters
    ----------
    n_themes : int or "auto"
        Number of discovered themes, or ``"auto"`` to choose it by NPMI coherence in ``auto_range``.
    rules : dict of str to list of str, optional
        User-defined themes: name → keywords (whole words) or regular expressions. They take
        precedence over discovered themes.
    method : {"nmf", "kmeans"}
        NMF topics (default) or spherical mini-batch k-means on the TF-IDF rows.
    min_df, max_df : int or float
        Document-frequency limits of the vocabulary (as in scikit-learn's ``TfidfVectorizer``).
    ngram_range : tuple of int
        Word n-grams; default uni- and bigrams.
    threshold : float
        Cosine score at or above which a discovered theme is also assigned (multi-label).
    n_keywords, n_quotes : int
        Keywords and representative quotes kept per theme.
    random_state : int
        Seed of the factorisation.

    Attributes
    ----------
    themes_ : list of dict
        One per theme: ``id``, ``name``, ``keywords``, ``size``, ``quotes``, ``pinned``,
        ``source`` ("discovered", "rule" or "merged").
    vocabulary_ : list of str
    idf_ : ndarray
    vectors_ : ndarray of shape (n_discovered, n_vocabulary)
        Unit theme vectors, in the order of the discovered entries of ``themes_``.

    Examples
    --------
    >>> from cxlens.ingest import simulate
    >>> texts = simulate("small", seed=0).feedback["comment"].dropna().tolist()
    >>> tx = ThemeExtractor(n_themes=8, rules={"Delivery delay": ["late", r"\\bdelay(ed)?\\b"]}).fit(texts)
    >>> tx.predict(["my parcel was three days late"])[0]
    'Delivery delay'
    """

    def __init__(
        self,
        n_themes: int | str = 10,
        *,
        rules: Mapping[str, Iterable[str]] | None = None,
        method: str = "nmf",
        min_df: int | float = 3,
        max_df: int | float = 0.5,
        ngram_range: tuple[int, int] = (1, 2),
        threshold: float = 0.15,
        n_keywords: int = 8,
        n_quotes: int = 3,
        auto_range: Sequence[int] = (6, 8, 10, 12, 15),
        random_state: int = 0,
    ):
        self.n_themes = n_themes
        self.rules = rules
        self.method = method
        self.min_df = min_df
        self.max_df = max_df
        self.ngram_range = ngram_range
        self.threshold = threshold
        self.n_keywords = n_keywords
        self.n_quotes = n_quotes
        self.auto_range = auto_range
        self.random_state = random_state

    # -- fitting ------------------------------------------------------------------------------
    def _vectorizer(self, vocabulary: Sequence[str] | None = None):
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(
            preprocessor=clean_text,
            token_pattern=TOKEN_PATTERN,
            stop_words="english",
            ngram_range=tuple(self.ngram_range),
            min_df=1 if vocabulary is not None else self.min_df,
            max_df=1.0 if vocabulary is not None else self.max_df,
            vocabulary=vocabulary,
        )

    def _tfidf(self, counts) -> sparse.csr_matrix:
        from sklearn.preprocessing import normalize

        x = sparse.csr_matrix(counts, dtype=np.float64)
        x.data = 1.0 + np.log(x.data)  # sublinear tf
        return normalize(x @ sparse.diags(self.idf_), norm="l2", copy=False)

    def _factorise(self, x, k: int) -> np.ndarray:
        if self.method == "nmf":
            from sklearn.decomposition import NMF

            model = NMF(n_components=k, init="nndsvda", max_iter=400, random_state=self.random_state)
            model.fit(x)
            h = model.components_
        elif self.method == "kmeans":
            from sklearn.cluster import MiniBatchKMeans

            km = MiniBatchKMeans(n_clusters=k, n_init=5, batch_size=2048, random_state=self.random_state).fit(x)
            h = np.clip(km.cluster_centers_, 0, None)
        else:
            raise ConfigError(f"method {self.method!r} is not known; expected 'nmf' or 'kmeans'")
        return _unit_rows(_truncate(h, MAX_TERMS))

    def fit(self, texts: Sequence[Any], y: Any = None) -> ThemeExtractor:
        """Learn the vocabulary and the themes of ``texts``; pinned themes of a previous fit survive.

        Returns
        -------
        ThemeExtractor
            ``self``.
        """
        previous = [t for t in getattr(self, "themes_", []) if t["pinned"] and t["source"] != "rule"]
        prev_vectors = {t["id"]: self._vector_terms(t["id"]) for t in previous} if previous else {}
        docs = _texts(texts)
        rules = compile_rules(self.rules)
        vec = self._vectorizer()
        try:
            counts = vec.fit_transform(docs)
        except ValueError as exc:
            raise ConfigError(
                f"no vocabulary could be built from {len(docs)} texts ({exc}); give more texts or lower min_df"
            ) from None
        self.vocabulary_ = vec.get_feature_names_out().tolist()
        n_docs = counts.shape[0]
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        self.idf_ = np.log((1 + n_docs) / (1 + df)) + 1.0
        x = self._tfidf(counts)
        binary = (counts > 0).astype(np.int32).tocsc()
        if self.n_themes == "auto":
            best = None
            for k in self.auto_range:
                if k >= min(x.shape):
                    continue
                h = self._factorise(x, k)
                c = float(np.mean(_npmi(binary, _top_idx(h, 10))))
                if best is None or c > best[0]:
                    best = (c, k, h)
            if best is None:
                raise ConfigError(f"auto_range {list(self.auto_range)} has no k below the corpus size; give smaller k")
            self.n_themes_, h = best[1], best[2]
        else:
            k = int(self.n_themes)
            if not 1 <= k < min(x.shape):
                raise ConfigError(
                    f"n_themes={k} does not fit {x.shape[0]} texts and {x.shape[1]} terms; choose 1 ≤ k < both"
                )
            self.n_themes_, h = k, self._factorise(x, k)
        themes = [
            {
                "id": f"t{i}",
                "name": "",
                "keywords": [],
                "size": 0,
                "quotes": [],
                "pinned": False,
                "source": "discovered",
            }
            for i in range(h.shape[0])
        ]
        # pinned themes from the previous fit: take over the best-matching new theme by keywords
        index = {term: j for j, term in enumerate(self.vocabulary_)}
        for old in previous:
            terms = prev_vectors[old["id"]]
            old_kw = set(old["keywords"])
            overlaps = [len(old_kw & set(self._keywords(h[i]))) / max(len(old_kw), 1) for i in range(h.shape[0])]
            free = [i for i in range(h.shape[0]) if not themes[i]["pinned"]]
            i = max(free, key=lambda j: overlaps[j]) if free else None
            if i is not None and overlaps[i] >= 0.25:
                themes[i].update(id=old["id"], name=old["name"], pinned=True, source=old["source"])
            else:  # no new theme resembles it: keep it, re-expressed in the new vocabulary
                v = np.zeros(len(self.vocabulary_))
                for term, w in terms.items():
                    if term in index:
                        v[index[term]] = w
                if not v.any():
                    continue
                h = np.vstack([h, _unit_rows(v[None, :])])
                themes.append({**old, "size": 0, "quotes": []})
        # a pinned id taken over by another position must not repeat on an unpinned theme
        pinned_ids = {t["id"] for t in themes if t["pinned"]}
        used = {t["id"] for t in themes}
        n = 0
        for t in themes:
            if not t["pinned"] and t["id"] in pinned_ids:
                while f"t{n}" in used:
                    n += 1
                t["id"] = f"t{n}"
                used.add(t["id"])
        self.vectors_ = h
        self._rules = rules
        self.themes_ = themes + [
            {"id": name, "name": name, "keywords": [], "size": 0, "quotes": [], "pinned": True, "source": "rule"}
            for name in rules
        ]
        self._describe(docs, x, texts)
        return self

    def _describe(self, docs: list[str], x, raw: Sequence[Any]) -> None:
        """Fill keywords, names, sizes and quotes of every theme from the fitted corpus."""
        scores = np.asarray(x @ self.vectors_.T)
        primary = self._primary(docs, scores)
        raw_list = [str(t) for t in raw]
        for t in self.themes_:
            members = np.flatnonzero(primary == t["id"])
            t["size"] = int(len(members))
            if t["source"] == "rule":
                col = None
                order = members
            else:
                col = self._col(t["id"])
                order = members[np.argsort(-scores[members, col], kind="stable")]
                t["keywords"] = self._keywords(self.vectors_[col])
                if not t["name"]:
                    t["name"] = self._label(t["keywords"])
            seen: set[str] = set()
            quotes = []
            for i in order:
                q = raw_list[i].strip()
                if q.lower() not in seen:
                    seen.add(q.lower())
                    quotes.append(q)
                if len(quotes) >= self.n_quotes:
                    break
            t["quotes"] = quotes
            if t["source"] == "rule" and len(members):
                # a rule's keywords: the terms most over-represented in its matches
                mean_in = np.asarray(x[members].mean(axis=0)).ravel()
                t["keywords"] = [self.vocabulary_[k] for k in np.argsort(-mean_in, kind="stable")[: self.n_keywords]]

    def _keywords(self, v: np.ndarray) -> list[str]:
        return [self.vocabulary_[k] for k in np.argsort(-v, kind="stable")[: self.n_keywords] if v[k] > 0]

    @staticmethod
    def _label(keywords: list[str], n: int = 3) -> str:
        """``"late · delivery · days"``: top keywords, skipping words already shown."""
        chosen: list[str] = []
        words: set[str] = set()
        for kw in keywords:
            toks = kw.split()
            if set(toks) & words:
                continue
            # a bigram that contains a chosen unigram replaces it
            chosen = [c for c in chosen if not (len(c.split()) == 1 and c in toks)]
            chosen.append(kw)
            words |= set(toks)
            if len(chosen) == n:
                break
        return " · ".join(chosen)

    # -- scoring ------------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "themes_"):
            raise NotFoundError("This ThemeExtractor instance is not fitted yet. Call 'fit' first.")

    def _col(self, theme_id: str) -> int:
        ids = [t["id"] for t in self.themes_ if t["source"] != "rule"]
        return ids.index(theme_id)

    def _vector_terms(self, theme_id: str) -> dict[str, float]:
        v = self.vectors_[self._col(theme_id)]
        return {self.vocabulary_[k]: float(v[k]) for k in np.flatnonzero(v)}

    def _rule_hits(self, docs: list[str]) -> np.ndarray:
        hits = np.zeros((len(docs), len(self._rules)), dtype=bool)
        for j, pats in enumerate(self._rules.values()):
            for i, d in enumerate(docs):
                hits[i, j] = any(p.search(d) for p in pats)
        return hits

    def _primary(self, docs: list[str], scores: np.ndarray) -> np.ndarray:
        discovered = [t["id"] for t in self.themes_ if t["source"] != "rule"]
        best = scores.argmax(axis=1) if scores.shape[1] else np.zeros(len(docs), dtype=int)
        out = np.array([discovered[b] if scores.shape[1] else None for b in best], dtype=object)
        if scores.shape[1]:
            out[scores.max(axis=1) <= 0] = None  # no known word at all
        if self._rules:
            hits = self._rule_hits(docs)
            names = list(self._rules)
            for i in np.flatnonzero(hits.any(axis=1)):
                out[i] = names[int(np.argmax(hits[i]))]
        return out

    def _scores(self, docs: list[str]) -> np.ndarray:
        counts = self._vectorizer(self.vocabulary_).transform(docs)
        return np.asarray(self._tfidf(counts) @ self.vectors_.T)

    def transform(self, texts: Sequence[Any]) -> pd.DataFrame:
        """Score of every theme for every text: cosine for discovered themes, 1/0 for rule themes.

        Returns
        -------
        DataFrame
            One row per text, one column per theme id (in ``themes_`` order).
        """
        self._check()
        docs = _texts(texts)
        scores = self._scores(docs)
        out = pd.DataFrame(scores, columns=[t["id"] for t in self.themes_ if t["source"] != "rule"])
        if self._rules:
            hits = self._rule_hits(docs)
            for j, name in enumerate(self._rules):
                out[name] = hits[:, j].astype(float)
        return out[[t["id"] for t in self.themes_]]

    def predict(self, texts: Sequence[Any]) -> np.ndarray:
        """Primary theme id of each text (first matching rule, else the best discovered theme, else None)."""
        self._check()
        docs = _texts(texts)
        return self._primary(docs, self._scores(docs))

    def assign(self, texts: Sequence[Any]) -> pd.DataFrame:
        """Primary theme, its name and score, and every theme at or above ``threshold`` (multi-label).

        Returns
        -------
        DataFrame
            Columns ``theme``, ``theme_name``, ``theme_score``, ``themes`` (list of ids, primary first).
        """
        scores = self.transform(texts)
        primary = self.predict(texts)
        names = self.names()
        labels = []
        top = []
        for i, p in enumerate(primary):
            row = scores.iloc[i]
            extra = [c for c in row.index[np.argsort(-row.to_numpy(), kind="stable")] if row[c] >= self.threshold]
            labels.append(([p] if p is not None else []) + [c for c in extra if c != p])
            top.append(float(row[p]) if p is not None else 0.0)
        out = pd.DataFrame({"theme_score": top, "themes": labels})
        out.insert(0, "theme", pd.Series(list(primary), dtype=object))
        out.insert(1, "theme_name", pd.Series([names.get(p) for p in primary], dtype=object))
        return out

    def names(self) -> dict[str, str]:
        """Theme id → display name."""
        self._check()
        return {t["id"]: t["name"] for t in self.themes_}

    def themes(self) -> pd.DataFrame:
        """The fitted themes as a table: id, name, keywords, size, share, quotes, pinned, source."""
        self._check()
        f = pd.DataFrame(self.themes_)
        total = f["size"].sum()
        f.insert(4, "share", f["size"] / total if total else 0.0)
        return f

    # -- editing ------------------------------------------------------------------------------
    def _get(self, theme_id: str) -> dict[str, Any]:
        self._check()
        for t in self.themes_:
            if t["id"] == theme_id:
                return t
        raise NotFoundError(
            f"theme {theme_id!r} is not in this model; expected one of {[t['id'] for t in self.themes_]}"
        )

    def rename(self, theme_id: str, name: str) -> ThemeExtractor:
        """Give theme ``theme_id`` the display name ``name``; returns ``self``."""
        self._get(theme_id)["name"] = str(name)
        return self

    def pin(self, theme_id: str, pinned: bool = True) -> ThemeExtractor:
        """Pin (or unpin) a theme so that it survives :meth:`fit` on new text; returns ``self``."""
        self._get(theme_id)["pinned"] = bool(pinned)
        return self

    def merge(self, a: str, b: str, name: str | None = None) -> ThemeExtractor:
        """Merge discovered theme ``b`` into ``a`` (size-weighted mean vector); returns ``self``.

        The merged theme keeps id ``a``; it is pinned if either part was.
        """
        ta, tb = self._get(a), self._get(b)
        if a == b:
            raise ConfigError(f"cannot merge theme {a!r} with itself; give two different theme ids")
        if "rule" in (ta["source"], tb["source"]):
            raise ConfigError(f"themes {a!r} and {b!r}: rule themes cannot be merged; edit the rules instead")
        ia, ib = self._col(a), self._col(b)
        wa, wb = max(ta["size"], 1), max(tb["size"], 1)
        v = _unit_rows(_truncate((wa * self.vectors_[ia] + wb * self.vectors_[ib])[None, :], MAX_TERMS))[0]
        self.vectors_[ia] = v
        self.vectors_ = np.delete(self.vectors_, ib, axis=0)
        ta.update(
            size=ta["size"] + tb["size"],
            quotes=(ta["quotes"] + tb["quotes"])[: self.n_quotes],
            keywords=self._keywords(v),
            pinned=ta["pinned"] or tb["pinned"],
            source="merged",
        )
        ta["name"] = str(name) if name else self._label(ta["keywords"])
        self.themes_.remove(tb)
        return self

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of parameters and fitted state (exact round trip via :meth:`from_dict`)."""
        self._check()
        params = {
            "n_themes": self.n_themes,
            "rules": {k: list(v) if not isinstance(v, str) else [v] for k, v in (self.rules or {}).items()},
            "method": self.method,
            "min_df": self.min_df,
            "max_df": self.max_df,
            "ngram_range": list(self.ngram_range),
            "threshold": self.threshold,
            "n_keywords": self.n_keywords,
            "n_quotes": self.n_quotes,
            "auto_range": list(self.auto_range),
            "random_state": self.random_state,
        }
        vectors = [
            {"terms": [int(k) for k in np.flatnonzero(v)], "weights": [float(w) for w in v[v != 0]]}
            for v in self.vectors_
        ]
        return {
            "format": FORMAT,
            "params": params,
            "n_themes_": self.n_themes_,
            "vocabulary": list(self.vocabulary_),
            "idf": [float(w) for w in self.idf_],
            "vectors": vectors,
            "themes": [dict(t) for t in self.themes_],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThemeExtractor:
        """Rebuild a fitted extractor from :meth:`to_dict` output."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise ConfigError(
                f"theme model format is {got!r}; expected {FORMAT!r} as written by ThemeExtractor.to_dict"
            )
        p = dict(data["params"])
        p["ngram_range"] = tuple(p["ngram_range"])
        p["auto_range"] = tuple(p["auto_range"])
        self = cls(**p)
        self.n_themes_ = data["n_themes_"]
        self.vocabulary_ = list(data["vocabulary"])
        self.idf_ = np.asarray(data["idf"], dtype=np.float64)
        h = np.zeros((len(data["vectors"]), len(self.vocabulary_)))
        for i, v in enumerate(data["vectors"]):
            h[i, v["terms"]] = v["weights"]
        self.vectors_ = h
        self._rules = compile_rules(self.rules)
        self.themes_ = [dict(t, keywords=list(t["keywords"]), quotes=list(t["quotes"])) for t in data["themes"]]
        return self


# -- helpers ----------------------------------------------------------------------------------
def _unit_rows(h: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(h, axis=1, keepdims=True)
    return np.divide(h, n, out=np.zeros_like(h, dtype=np.float64), where=n > 0)


def _truncate(h: np.ndarray, m: int) -> np.ndarray:
    h = np.array(h, dtype=np.float64)
    if h.shape[1] > m:
        cut = np.argpartition(-h, m, axis=1)[:, m:]
        np.put_along_axis(h, cut, 0.0, axis=1)
    return h


def _top_idx(h: np.ndarray, n: int) -> list[np.ndarray]:
    return [np.argsort(-row, kind="stable")[:n] for row in h]


def _npmi(binary, tops: list[np.ndarray], eps: float = 1e-12) -> list[float]:
    """Mean NPMI over keyword pairs of each theme (Bouma 2009; document co-occurrence)."""
    n = binary.shape[0]
    out = []
    for idx in tops:
        cols = binary[:, idx].astype(np.float64)
        co = (cols.T @ cols).toarray() / n
        p = np.diag(co)
        vals = []
        for i in range(len(idx)):
            for j in range(i + 1, len(idx)):
                pij = co[i, j]
                if pij <= 0:
                    vals.append(-1.0)
                else:
                    vals.append(math.log(pij / (p[i] * p[j])) / -math.log(pij + eps))
        out.append(float(np.mean(vals)) if vals else 0.0)
    return out


def _umass(binary, tops: list[np.ndarray]) -> list[float]:
    """UMass coherence (Mimno et al. 2011): mean log((D(wi,wj)+1)/D(wj)) over ordered keyword pairs."""
    out = []
    for idx in tops:
        cols = binary[:, idx].astype(np.float64)
        co = (cols.T @ cols).toarray()
        d = np.diag(co)
        vals = [math.log((co[i, j] + 1) / d[j]) for i in range(1, len(idx)) for j in range(i) if d[j] > 0]
        out.append(float(np.mean(vals)) if vals else 0.0)
    return out


def coherence(extractor: ThemeExtractor, texts: Sequence[Any], top_n: int = 10, measure: str = "npmi") -> pd.Series:
    """Topic coherence of each discovered theme on ``texts``, from its ``top_n`` keywords.

    ``measure="npmi"`` is normalised pointwise mutual information of keyword pairs over document
    co-occurrence (Bouma 2009; range −1…1, higher is better; Röder et al. 2015 found it tracks
    human judgements); ``"umass"`` is Mimno et al. (2011) (≤ 0, closer to 0 is better).

    Returns
    -------
    Series
        Coherence per discovered theme id.
    """
    extractor._check()
    binary = (extractor._vectorizer(extractor.vocabulary_).transform(_texts(texts)) > 0).astype(np.int32).tocsc()
    tops = _top_idx(extractor.vectors_, top_n)
    if measure == "npmi":
        vals = _npmi(binary, tops)
    elif measure == "umass":
        vals = _umass(binary, tops)
    else:
        raise ConfigError(f"coherence measure {measure!r} is not known; expected 'npmi' or 'umass'")
    ids = [t["id"] for t in extractor.themes_ if t["source"] != "rule"]
    return pd.Series(vals, index=ids, name=measure)
