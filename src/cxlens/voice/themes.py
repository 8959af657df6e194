"""Theme discovery in verbatims: key-phrase TF-IDF + NMF, sub-themes, user rules, merge/rename/pin, JSON.

Texts are counted as *terms* (:mod:`cxlens.voice.phrases`): stems of content words and of
adjacent content-word pairs, so "cancelled", "cancellation" and "Cancelled" are one term and
"lost bags" is a phrase. A theme is named by its members' own key phrases ("Lost bags · baggage
claim"), never by stems, and is split once more into sub-themes (theme → sub-theme).

The default method (``"vectors"``) clusters the texts with k-means in a space of corpus word
vectors beside LSA coordinates (see :class:`ThemeExtractor`); the others are below. For
``"nmf"`` and ``"kmeans"`` a theme is a unit vector over the TF-IDF vocabulary: the rows of an NMF
factorisation ``X ≈ W·H`` of the L2-normalised TF-IDF matrix (Lee & Seung 1999; Févotte &
Idier 2011 for the solver scikit-learn uses) or the centroids of spherical k-means on the same
matrix. A verbatim's score for a theme is the cosine between its TF-IDF vector and the theme
vector, so the same rule scores training and new text, survives a JSON round trip exactly and
gives a natural "closest to the centroid" order for representative quotes.

User rules (keyword or regular expression lists) take precedence: a verbatim that matches a
rule gets the rule's theme as its primary theme (first matching rule in the order given) and a
score of 1.0 for it; discovered themes are then only secondary labels.

The number of themes is a parameter (``n_themes``); ``n_themes="auto"`` (the default) picks,
among ``auto_range``, the k whose themes have the highest mean NPMI coherence on the fitted
corpus (:func:`coherence`), the criterion reported in ``docs/voice-themes.md``. Sub-themes are
the same model fitted again on each theme's members (2–4 of them, also chosen by NPMI).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from cxlens.errors import ConfigError, NotFoundError, ParameterError
from cxlens.voice import lexicon, phrases
from cxlens.voice.coherence import coherence, npmi, top_terms
from cxlens.voice.wordvectors import unit_rows, word_vectors

__all__ = ["OTHER_ID", "OTHER_NAME", "ThemeExtractor", "coherence", "clean_text", "parse_n_themes", "with_other"]

FORMAT = "cxlens.themes/2"
#: formats :meth:`ThemeExtractor.from_dict` still reads (version 1: word analyzer, no sub-themes)
READABLE_FORMATS = ("cxlens.themes/1", FORMAT)
ANALYZERS = ("phrases", "words")
_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_ENTITY = re.compile(r"&(amp|lt|gt|quot);")
#: words of two or more letters (numbers and underscores are not keywords)
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"
#: a theme vector keeps at most this many terms (bounds the JSON size; applied in fit too)
MAX_TERMS = 400
#: a pinned theme takes over the new theme whose vector has at least this correlation with its own
PIN_SIMILARITY = 0.3
METHODS = ("vectors", "nmf", "kmeans")
#: default multi-label threshold of each method's score (see ThemeExtractor.threshold)
THRESHOLDS = {"vectors": 0.45, "nmf": 0.15, "kmeans": 0.15}
#: a theme is named after a CX category (:mod:`cxlens.voice.lexicon`) when at least this share of
#: its members mention the category ...
CATEGORY_SHARE = 0.3
#: ... and they mention it at least this many times as often as the other texts do
CATEGORY_LIFT = 1.5
#: an @handle addressed by at least this share of the texts is the company's own (``@united``): its
#: word never names a theme (every member writes to the company; the name would say nothing)
HANDLE_SHARE = 0.01
#: decimals kept in the dense theme vectors of the "vectors" method (JSON size; exact round trip)
VECTOR_DECIMALS = 5
#: a cluster whose most distinctive term is used by fewer than this share of its members names no
#: issue: it is *general* (:meth:`ThemeExtractor._split_general`)
GENERAL_SHARE = 0.15
#: at most this share of the texts is left without a theme ("other") when general clusters are set apart
GENERAL_CAP = 0.10
#: the group of texts without a primary theme (a general remark, or no word the model knows), as
#: every listing, filter and file output shows it: a reserved id no discovered theme (``t0``…) or
#: rule may take, and its display name
OTHER_ID = "other"
OTHER_NAME = "Other (no theme)"


def clean_text(text: Any) -> str:
    """Lower-case ``text`` and drop URLs, @handles and HTML entities (``None`` → ``""``)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    s = _ENTITY.sub(" ", str(text))
    return _HANDLE.sub(" ", _URL.sub(" ", s)).lower()


def parse_n_themes(themes: int | str | None) -> int | str | None:
    """A number of themes as given on a command line or to ``score_file``: None, ``"auto"`` or an int ≥ 2."""
    if themes is None or themes == "auto":
        return themes
    try:
        k = int(themes)
    except (TypeError, ValueError):
        raise ParameterError(
            "themes", f"number of themes (--k) is {themes!r}; expected 'auto' or a whole number such as 8"
        ) from None
    if k < 2 or str(themes).strip() not in (str(k), f"{k}.0"):
        raise ParameterError(
            "themes", f"number of themes (--k) is {themes!r}; expected 'auto' or a whole number of at least 2"
        )
    return k


def _check_not_other(rules: Mapping[str, Any]) -> None:
    """A rule may not take the reserved id of the texts without a theme (:data:`OTHER_ID`)."""
    for name in rules:
        if str(name).strip().casefold() in (OTHER_ID, OTHER_NAME.casefold()):
            raise ConfigError(
                f"rule {name!r} takes the name reserved for the texts without a theme ({OTHER_ID!r}, "
                f"{OTHER_NAME!r}); rename the rule, e.g. 'Other issues'"
            )


def with_other(assigned: pd.DataFrame) -> pd.DataFrame:
    """:meth:`ThemeExtractor.assign` output with the texts without a theme in the "other" group.

    ``theme`` becomes :data:`OTHER_ID` and ``theme_name`` :data:`OTHER_NAME` where the primary
    theme is None, so files and tables show a named group instead of an empty cell, NaN or
    "None"; the sub-theme of such a text stays empty (the group has none).

    Examples
    --------
    >>> a = pd.DataFrame({"theme": ["t0", None], "theme_name": ["Late", None]})
    >>> with_other(a).values.tolist()
    [['t0', 'Late'], ['other', 'Other (no theme)']]
    """
    out = assigned.copy()
    none = out["theme"].isna().to_numpy()
    out["theme"] = out["theme"].astype(object).where(~none, OTHER_ID)
    if "theme_name" in out.columns:
        out["theme_name"] = out["theme_name"].astype(object).where(~none, OTHER_NAME)
    return out


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
    """Discover themes and sub-themes in short customer texts and assign them to new texts.

    Parameters
    ----------
    n_themes : int or "auto"
        Number of discovered themes, or ``"auto"`` (default) to choose it by NPMI coherence in
        ``auto_range``.
    rules : dict of str to list of str, optional
        User-defined themes: name → keywords (whole words) or regular expressions. They take
        precedence over discovered themes.
    method : {"vectors", "nmf", "kmeans"}
        ``"vectors"`` (default): k-means of the texts in a word-vector space learnt from the
        corpus's own co-occurrences (PPMI + SVD, :func:`cxlens.voice.wordvectors.word_vectors`), so that "bag", "luggage"
        and "baggage" count as near each other in a 10-word tweet, joined by LSA (``lsa``); ``"nmf"``: NMF topics of the
        TF-IDF rows; ``"kmeans"``: spherical mini-batch k-means on the TF-IDF rows.
    analyzer : {"phrases", "words"}
        ``"phrases"`` (default): stems of content words and of adjacent content-word pairs
        (:func:`cxlens.voice.phrases.analyse`); ``"words"``: the word uni- and bigrams of
        scikit-learn's tokenizer with English stop words (the model of format 1).
    min_df, max_df : int or float
        Document-frequency limits of the vocabulary (as in scikit-learn's ``TfidfVectorizer``).
    ngram_range : tuple of int
        Word n-grams of the ``"words"`` analyzer; default uni- and bigrams.
    threshold : float, optional
        Score at or above which a discovered theme is also assigned (multi-label); default
        :data:`THRESHOLDS` of the method (0.45 weighted mean cosine for ``"vectors"``, about the
        90th percentile of a tweet's best theme; 0.15 cosine for the others).
    n_keywords, n_quotes : int
        Key phrases and representative quotes kept per theme.
    subthemes : bool
        Split every discovered theme with at least ``min_subtheme`` members into 2–4 sub-themes.
    dimensions : int
        Size of the word vectors of the ``"vectors"`` method.
    random_state : int
        Seed of the factorisation.
    lsa : bool
        ``"vectors"`` method: place a text by its LSA coordinates (truncated SVD of the TF-IDF rows,
        ``dimensions`` of them) beside its corpus word vectors, the two weighted equally (default
        True); LSA keeps the exact words a text uses ("dress", "jacket") where the word vectors
        blur them with their neighbours. ``False``: word vectors alone (the model before).
    categories : bool
        Name a theme after the generic CX category (:data:`cxlens.voice.lexicon.CATEGORIES`: "Late
        or delayed", "Customer service", "Refund and billing"…) that its members mention far more
        than the other texts do (:data:`CATEGORY_SHARE`, :data:`CATEGORY_LIFT`), followed by its own key
        phrase ("Customer service · hold"); default True. Names only: the themes are unchanged.

    Attributes
    ----------
    themes_ : list of dict
        One per theme: ``id``, ``name``, ``keywords`` (key phrases, best first), ``size``,
        ``quotes``, ``pinned``, ``source`` ("discovered", "rule" or "merged") and ``subthemes``
        (list of ``id``, ``name``, ``keywords``, ``size``; ids ``t3.0``, ``t3.1``…).
    vocabulary_ : list of str
        Terms (stems and stem pairs for the ``"phrases"`` analyzer).
    surface_ : dict of str to str
        The most frequent written form of every term, used in names and keywords.
    idf_ : ndarray
    vectors_ : ndarray of shape (n_discovered, n_vocabulary)
        Unit theme vectors, in the order of the discovered entries of ``themes_``.
    subvectors_ : ndarray of shape (n_subthemes, n_vocabulary)
        Unit sub-theme vectors, in the order of the ``subthemes`` entries of ``themes_``.
    handles_ : list of str
        The @handles at least :data:`HANDLE_SHARE` of the texts address (``["@united"]``): the
        company's own. Their words, like opinion words (:func:`cxlens.voice.lexicon.opinion_words`),
        name no theme on their own.

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
        n_themes: int | str = "auto",
        *,
        rules: Mapping[str, Iterable[str]] | None = None,
        method: str = "vectors",
        analyzer: str = "phrases",
        min_df: int | float = 3,
        max_df: int | float = 0.5,
        ngram_range: tuple[int, int] = (1, 2),
        threshold: float | None = None,
        n_keywords: int = 8,
        n_quotes: int = 3,
        auto_range: Sequence[int] = (6, 8, 10, 12, 15),
        subthemes: bool = True,
        min_subtheme: int = 40,
        dimensions: int = 100,
        random_state: int = 0,
        categories: bool = True,
        lsa: bool = True,
    ):
        self.n_themes = n_themes
        self.rules = rules
        self.method = method
        self.analyzer = analyzer
        self.min_df = min_df
        self.max_df = max_df
        self.ngram_range = ngram_range
        self.threshold = threshold
        self.n_keywords = n_keywords
        self.n_quotes = n_quotes
        self.auto_range = auto_range
        self.subthemes = subthemes
        self.min_subtheme = min_subtheme
        self.dimensions = dimensions
        self.random_state = random_state
        self.categories = categories
        self.lsa = lsa

    # -- fitting ------------------------------------------------------------------------------
    def _vectorizer(self, vocabulary: Sequence[str] | None = None):
        from sklearn.feature_extraction.text import CountVectorizer

        limits = {
            "min_df": 1 if vocabulary is not None else self.min_df,
            "max_df": 1.0 if vocabulary is not None else self.max_df,
            "vocabulary": vocabulary,
        }
        if self.analyzer == "phrases":
            return CountVectorizer(analyzer=phrases.analyse, **limits)
        if self.analyzer != "words":
            raise ConfigError(f"analyzer {self.analyzer!r} is not known; expected one of {list(ANALYZERS)}")
        return CountVectorizer(
            preprocessor=clean_text,
            token_pattern=TOKEN_PATTERN,
            stop_words="english",
            ngram_range=tuple(self.ngram_range),
            **limits,
        )

    def _tfidf(self, counts) -> sparse.csr_matrix:
        from sklearn.preprocessing import normalize

        x = sparse.csr_matrix(counts, dtype=np.float64)
        x.data = 1.0 + np.log(x.data)  # sublinear tf
        return normalize(x @ sparse.diags(self.idf_), norm="l2", copy=False)

    def _factorise(self, x, k: int, space: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        if self.method == "vectors":
            from sklearn.cluster import KMeans

            assert space is not None
            docs, words = space
            km = KMeans(n_clusters=k, n_init=3, random_state=self.random_state).fit(docs)
            # a theme's vector over terms: each term's vector (the word vector, beside its LSA
            # coordinates with ``lsa``) projected on the unit centroid — the cosine for word vectors
            # alone; a text's score (:meth:`_scores`) is then the TF-IDF-weighted mean of these,
            # which ranks the themes of a text exactly as the clustering does
            return np.round(unit_rows(km.cluster_centers_) @ words.T, VECTOR_DECIMALS)
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
            raise ConfigError(f"method {self.method!r} is not known; expected one of {list(METHODS)}")
        return unit_rows(_truncate(h, MAX_TERMS))

    def _space(self, x, binary) -> tuple[np.ndarray, np.ndarray] | None:
        """Document and word vectors of the ``"vectors"`` method (None for the others)."""
        if self.method != "vectors":
            return None
        contexts = np.array([" " not in term for term in self.vocabulary_])
        words = word_vectors(binary, contexts, self.dimensions, self.random_state)
        if self.lsa:
            words = _with_lsa(x, words, self.dimensions, self.random_state)
        return unit_rows(np.asarray(x @ words)), words

    def _best_k(
        self, x, binary, candidates: Iterable[int], space: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[int, np.ndarray] | None:
        """The candidate k whose factorisation has the highest mean NPMI of its top-10 terms."""
        best = None
        for k in candidates:
            if k >= min(x.shape):
                continue
            h = self._factorise(x, k, space)
            c = float(np.mean(npmi(binary, top_terms(h, 10))))
            if best is None or c > best[0]:
                best = (c, k, h)
        return None if best is None else (best[1], best[2])

    def fit(self, texts: Sequence[Any], y: Any = None) -> ThemeExtractor:
        """Learn the vocabulary, the themes and sub-themes of ``texts``; pinned themes of a previous fit survive.

        Returns
        -------
        ThemeExtractor
            ``self``.
        """
        previous = [t for t in getattr(self, "themes_", []) if t["pinned"] and t["source"] != "rule"]
        prev_vectors = {t["id"]: self._vector_terms(t["id"]) for t in previous} if previous else {}
        raw = _as_list(texts)
        docs = _texts(raw)
        _check_not_other(self.rules or {})
        rules = compile_rules(self.rules)
        vec = self._vectorizer()
        try:
            counts = vec.fit_transform(raw if self.analyzer == "phrases" else docs)
        except ValueError as exc:
            raise ConfigError(
                f"no vocabulary could be built from {len(docs)} texts ({exc}); give more texts or lower min_df"
            ) from None
        self.vocabulary_ = vec.get_feature_names_out().tolist()
        self.surface_ = phrases.surface_forms(raw, self.vocabulary_) if self.analyzer == "phrases" else {}
        n_docs = counts.shape[0]
        df = np.asarray((counts > 0).sum(axis=0)).ravel()
        self.idf_ = np.log((1 + n_docs) / (1 + df)) + 1.0
        x = self._tfidf(counts)
        binary = (counts > 0).astype(np.int32).tocsc()
        space = self._space(x, binary)
        if self.n_themes == "auto":
            got = self._best_k(x, binary, self.auto_range, space)
            if got is None:
                raise ConfigError(f"auto_range {list(self.auto_range)} has no k below the corpus size; give smaller k")
            self.n_themes_, h = got
        else:
            k = int(self.n_themes)
            if not 1 <= k < min(x.shape):
                raise ConfigError(
                    f"n_themes={k} does not fit {x.shape[0]} texts and {x.shape[1]} terms; choose 1 ≤ k < both"
                )
            self.n_themes_, h = k, self._factorise(x, k, space)
        h, self.general_, self.other_score_ = self._split_general(x, binary, df, h)
        themes = [
            {
                "id": f"t{i}",
                "name": "",
                "keywords": [],
                "size": 0,
                "quotes": [],
                "pinned": False,
                "source": "discovered",
                "subthemes": [],
            }
            for i in range(h.shape[0])
        ]
        # pinned themes from the previous fit: take over the most similar new theme (cosine of vectors)
        index = {term: j for j, term in enumerate(self.vocabulary_)}
        for old in previous:
            v = np.zeros(len(self.vocabulary_))
            for term, w in prev_vectors[old["id"]].items():
                if term in index:
                    v[index[term]] = w
            free = [i for i in range(h.shape[0]) if i < len(themes) and not themes[i]["pinned"]]
            sims = {i: _correlation(h[i], v) for i in free}
            i = max(free, key=lambda j: sims[j]) if free else None
            if i is not None and sims[i] >= PIN_SIMILARITY:
                themes[i].update(id=old["id"], name=old["name"], pinned=True, source=old["source"])
            elif v.any():  # no new theme resembles it: keep it, re-expressed in the new vocabulary
                h = np.vstack([h, v[None, :] if self.method == "vectors" else unit_rows(v[None, :])])
                themes.append({**old, "size": 0, "quotes": [], "subthemes": []})
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
        self.subvectors_ = np.zeros((0, h.shape[1]))
        self._rules = rules
        self.themes_ = themes + [
            {"id": name, "name": name, "keywords": [], "size": 0, "quotes": [], "pinned": True, "source": "rule",
             "subthemes": []}
            for name in rules
        ]  # fmt: skip
        self.handles_ = _handles(raw, HANDLE_SHARE)
        self._avoid = self._not_in_names()
        self._describe(docs, x, raw, binary, df, space)
        return self

    def _not_in_names(self) -> frozenset[str]:
        """Terms (single words) no name may contain: opinion words and the words of the company's @handles.

        A word is an opinion word when its most frequent written form (``surface_``) is one of
        :func:`cxlens.voice.lexicon.opinion_words`; a handle's word is the stem of its letters
        (``@united`` → ``unit``, as "United" is counted).
        """
        opinion = lexicon.opinion_words()
        words = {
            term
            for term in self.vocabulary_
            if " " not in term and self.surface_.get(term, term).lower().replace("’", "'") in opinion
        }
        words |= {phrases.stem(h[1:]) if self.analyzer == "phrases" else h[1:] for h in self.handles_}
        return frozenset(words)

    def _split_general(self, x, binary, df: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None]:
        """Set apart the clusters with no distinctive issue phrase: the theme vectors, the general ones, a cut.

        A cluster is *general* when its most distinctive term (share of members × log lift over the
        other texts, :func:`cxlens.voice.phrases.phrase_scores`) is used by fewer than
        :data:`GENERAL_SHARE` of its members: it gathers texts that name no issue ("worst airline
        ever") rather than one issue. Its texts go to their best remaining theme, except the weakest
        of them (best remaining score below the returned cut), at most :data:`GENERAL_CAP` of all
        texts, which get no theme ("other"). Only the default ``"vectors"`` method; at least two themes stay.
        """
        none = np.zeros((0, h.shape[1]))
        if self.method != "vectors" or h.shape[0] < 3:
            return h, none, None
        scores = self._scores(x, h)
        known = _known(x)
        best = scores.argmax(axis=1)
        general = []
        n_docs = x.shape[0]
        for j in range(h.shape[0]):
            members = np.flatnonzero((best == j) & known)
            if not len(members):
                continue
            member_df = np.asarray(binary[members].sum(axis=0)).ravel().astype(np.float64)
            rest = df.astype(np.float64) - member_df
            distinct = phrases.phrase_scores(member_df, len(members), rest, max(n_docs - len(members), 1))
            if member_df[int(np.argmax(distinct))] < GENERAL_SHARE * len(members):
                general.append(j)
        if not general or h.shape[0] - len(general) < 2:
            return h, none, None
        keep = np.setdiff1d(np.arange(h.shape[0]), general)
        moved = np.flatnonzero(np.isin(best, general) & known)
        remaining = scores[np.ix_(moved, keep)].max(axis=1)
        cap = max(int(GENERAL_CAP * n_docs) - int((~known).sum()), 0)  # texts without a known term count too
        cut = None if len(moved) <= cap else float(np.sort(remaining)[cap])
        return h[keep], h[general], cut

    def _fit_subthemes(
        self, x, binary, members_of: dict[str, np.ndarray], space: tuple[np.ndarray, np.ndarray] | None
    ) -> None:
        """Split each large discovered theme into 2–4 sub-themes (NMF on its members, k by NPMI)."""
        sub_vectors = []
        for t in self.themes_:
            t["subthemes"] = []
            members = members_of.get(t["id"], np.zeros(0, dtype=int))
            if t["source"] == "rule" or not self.subthemes or len(members) < self.min_subtheme:
                continue
            xs = x[members]
            if space is not None:
                got = self._best_k(xs, binary[members], (2, 3, 4), (space[0][members], space[1]))
                if got is None:
                    continue
                k, full = got
            else:
                keep = np.flatnonzero(np.asarray((binary[members] > 0).sum(axis=0)).ravel() >= 2)
                if len(keep) < 4:
                    continue
                got = self._best_k(xs[:, keep], binary[members][:, keep], (2, 3, 4))
                if got is None:
                    continue
                k, hs = got
                full = np.zeros((k, x.shape[1]))
                full[:, keep] = hs
            for j in range(k):
                t["subthemes"].append({"id": f"{t['id']}.{j}", "name": "", "keywords": [], "size": 0})
                sub_vectors.append(full[j])
        self.subvectors_ = np.array(sub_vectors) if sub_vectors else np.zeros((0, x.shape[1]))

    def _name(
        self, members: np.ndarray, binary, df: np.ndarray, n_docs: int, cats: tuple[list[str], Any] | None = None
    ) -> tuple[str, list[str]]:
        member_df = np.asarray(binary[members].sum(axis=0)).ravel().astype(np.float64)
        if n_docs > len(members):  # against the other texts (class-based TF-IDF), else the corpus
            scores = phrases.phrase_scores(
                member_df, len(members), df.astype(np.float64) - member_df, n_docs - len(members)
            )
        else:
            scores = phrases.phrase_scores(member_df, len(members), df.astype(np.float64), n_docs)
        name, forms = phrases.label(
            scores, self.vocabulary_, self.surface_, n_phrases=self.n_keywords, avoid=self._avoid
        )
        top = {self.vocabulary_[i] for i in np.argsort(-scores, kind="stable")[: self.n_keywords] if scores[i] > 0}
        lead = set(phrases.analyse(name.split(" · ")[0])) if name else set()
        category = _category(members, cats, top, lead)
        if category and name:
            # the category first, then the members' own best phrase unless it only repeats it
            own = name.split(" · ")[0]
            words = {phrases.stem(w) for w in re.findall(r"[^\W\d_]+", category.lower())}
            first = [t for t in phrases.analyse(own) if " " not in t]
            repeats = any(t in words for t in first)  # "Late or delayed · flight delayed" says it twice
            name = category if repeats else f"{category} · {own[:1].lower() + own[1:]}"
        return name, forms

    def _category_hits(self, binary) -> tuple[list[str], Any] | None:
        """Names of the CX categories and a (texts × categories) matrix of which texts mention them."""
        if not self.categories or self.analyzer != "phrases":
            return None
        index = {term: j for j, term in enumerate(self.vocabulary_)}
        names, cols = [], []
        for name, terms in lexicon.category_terms().items():
            js = [index[t] for t in terms if t in index]
            if js:
                names.append(name)
                cols.append(np.asarray(binary[:, js].sum(axis=1)).ravel() > 0)
        if not names:
            return None
        return names, np.column_stack(cols)

    def _describe(self, docs: list[str], x, raw: Sequence[Any], binary=None, df=None, space=None) -> None:
        """Fill names, key phrases, sizes, quotes and sub-themes of every theme from the fitted corpus."""
        scores = self._scores(x, self.vectors_)
        primary = self._primary(docs, scores, _known(x), x)
        raw_list = ["" if r is None or (isinstance(r, float) and math.isnan(r)) else str(r) for r in raw]
        if binary is None:
            binary = (x > 0).astype(np.int32).tocsc()
        binary = sparse.csr_matrix(binary)
        if df is None:
            df = np.asarray(binary.sum(axis=0)).ravel()
        n_docs = binary.shape[0]
        members_of = {t["id"]: np.flatnonzero(primary == t["id"]) for t in self.themes_}
        cats = self._category_hits(binary)
        self._fit_subthemes(x, binary, members_of, space)
        sub_primary = self._sub_primary(x, primary)
        for t in self.themes_:
            members = members_of[t["id"]]
            t["size"] = int(len(members))
            if t["source"] == "rule":
                order = members
            else:
                col = self._col(t["id"])
                order = members[np.argsort(-scores[members, col], kind="stable")]
            if len(members):
                name, forms = self._name(members, binary, df, n_docs, cats if t["source"] != "rule" else None)
                t["keywords"] = forms[: self.n_keywords]
                if not t["name"]:
                    t["name"] = _distinct(name, t["keywords"], {u["name"] for u in self.themes_ if u is not t})
            elif t["source"] != "rule":
                t["keywords"] = self._keywords(self.vectors_[self._col(t["id"])])
                t["name"] = t["name"] or " · ".join(t["keywords"][:2])
            for s in t["subthemes"]:
                sub_members = np.flatnonzero(sub_primary == s["id"])
                s["size"] = int(len(sub_members))
                if len(sub_members):
                    s["name"], forms = self._name(sub_members, binary, df, n_docs)
                    s["keywords"] = forms[: self.n_keywords]
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

    def _keywords(self, v: np.ndarray) -> list[str]:
        return [
            self.surface_.get(self.vocabulary_[k], self.vocabulary_[k])
            for k in np.argsort(-v, kind="stable")[: self.n_keywords]
            if v[k] > 0
        ]

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

    def _primary(self, docs: list[str], scores: np.ndarray, known: np.ndarray, x=None) -> np.ndarray:
        """First matching rule, else the best discovered theme of texts with a known term, else None.

        With general clusters (:meth:`_split_general`) and the TF-IDF rows ``x``, a text closer to a
        general cluster than to every theme is "other" (None) when its best theme score is below
        ``other_score_`` (or not positive; every such text when ``other_score_`` is None).
        """
        discovered = [t["id"] for t in self.themes_ if t["source"] != "rule"]
        best = scores.argmax(axis=1) if scores.shape[1] else np.zeros(len(docs), dtype=int)
        out = np.array([discovered[b] if scores.shape[1] else None for b in best], dtype=object)
        out[~known] = None  # no known term at all
        general = getattr(self, "general_", None)
        if x is not None and general is not None and len(general) and scores.shape[1] and len(docs):
            top = scores.max(axis=1)
            closer = self._scores(x, general).max(axis=1) > top
            cut = self.other_score_
            weak = np.ones(len(top), dtype=bool) if cut is None else (top < cut) | (top <= 0)
            out[closer & weak] = None
        if self._rules:
            hits = self._rule_hits(docs)
            names = list(self._rules)
            for i in np.flatnonzero(hits.any(axis=1)):
                out[i] = names[int(np.argmax(hits[i]))]
        return out

    def _sub_ids(self) -> list[tuple[str, str]]:
        """(theme id, sub-theme id) of every row of ``subvectors_``, in order."""
        return [(t["id"], s["id"]) for t in self.themes_ for s in t.get("subthemes", [])]

    def _sub_primary(self, x, primary: np.ndarray) -> np.ndarray:
        """The best sub-theme (cosine) of each text within its primary theme, or None."""
        out = np.full(len(primary), None, dtype=object)
        pairs = self._sub_ids()
        if not pairs or not len(primary):
            return out
        sub = self._scores(x, self.subvectors_)
        owners = np.array([p[0] for p in pairs], dtype=object)
        ids = np.array([p[1] for p in pairs], dtype=object)
        for theme in set(owners):
            rows = np.flatnonzero(primary == theme)
            cols = np.flatnonzero(owners == theme)
            if len(rows):
                s = sub[np.ix_(rows, cols)]
                best = cols[s.argmax(axis=1)]
                got = ids[best]
                got[~_known(x[rows])] = None
                out[rows] = got
        return out

    def _scores(self, x, vectors: np.ndarray) -> np.ndarray:
        """Score of every text (rows of ``x``) for every theme vector.

        ``"vectors"`` method: the TF-IDF-weighted mean of the theme's weights of the text's terms
        (their projections on the theme's centroid; in [-1, 1] without ``lsa``, on about the same
        scale with it, as term vectors then have mean length 1); other methods: the cosine between the text's TF-IDF row and the unit
        theme vector (in [0, 1]).
        """
        raw = np.asarray(x @ vectors.T)
        if self.method != "vectors":
            return raw
        weight = np.asarray(x.sum(axis=1)).ravel()
        return raw / np.where(weight > 0, weight, 1.0)[:, None]

    def term_matrix(self, texts: Sequence[Any]) -> sparse.csr_matrix:
        """The L2-normalised TF-IDF rows of ``texts`` over the fitted vocabulary."""
        self._check()
        return self._matrix(_as_list(texts))[1]

    def _matrix(self, texts: Sequence[Any]):
        raw = list(texts)
        docs = _texts(raw)
        counts = self._vectorizer(self.vocabulary_).transform(raw if self.analyzer == "phrases" else docs)
        return docs, self._tfidf(counts)

    def transform(self, texts: Sequence[Any]) -> pd.DataFrame:
        """Score of every theme for every text: cosine for discovered themes, 1/0 for rule themes.

        Returns
        -------
        DataFrame
            One row per text, one column per theme id (in ``themes_`` order).
        """
        self._check()
        docs, x = self._matrix(_as_list(texts))
        scores = self._scores(x, self.vectors_)
        out = pd.DataFrame(scores, columns=[t["id"] for t in self.themes_ if t["source"] != "rule"])
        if self._rules:
            hits = self._rule_hits(docs)
            for j, name in enumerate(self._rules):
                out[name] = hits[:, j].astype(float)
        return out[[t["id"] for t in self.themes_]]

    def predict(self, texts: Sequence[Any]) -> np.ndarray:
        """Primary theme id of each text (first matching rule, else the best discovered theme, else None)."""
        self._check()
        docs, x = self._matrix(_as_list(texts))
        return self._primary(docs, self._scores(x, self.vectors_), _known(x), x)

    def assign(self, texts: Sequence[Any]) -> pd.DataFrame:
        """Primary theme and sub-theme, their names, the score, and every theme at or above ``threshold``.

        Returns
        -------
        DataFrame
            Columns ``theme``, ``theme_name``, ``theme_score``, ``themes`` (list of ids, primary
            first), ``subtheme`` and ``subtheme_name`` (None for rule themes and small themes).
        """
        self._check()
        texts = _as_list(texts)
        docs, x = self._matrix(texts)
        scores = self.transform(texts)
        primary = self._primary(docs, self._scores(x, self.vectors_), _known(x), x)
        sub = self._sub_primary(x, primary)
        names = self.names()
        sub_names = {s["id"]: s["name"] for t in self.themes_ for s in t.get("subthemes", [])}
        labels = []
        top = []
        values = scores.to_numpy()
        cols = np.asarray(scores.columns, dtype=object)
        for i, p in enumerate(primary):
            row = values[i]
            order = np.argsort(-row, kind="stable")
            extra = [cols[c] for c in order if row[c] >= self.threshold_]
            labels.append(([p] if p is not None else []) + [c for c in extra if c != p])
            top.append(float(scores.iloc[i][p]) if p is not None else 0.0)
        out = pd.DataFrame({"theme_score": top, "themes": labels})
        out.insert(0, "theme", pd.Series(list(primary), dtype=object))
        out.insert(1, "theme_name", pd.Series([names.get(p) for p in primary], dtype=object))
        out["subtheme"] = pd.Series(list(sub), dtype=object)
        out["subtheme_name"] = pd.Series([sub_names.get(s) for s in sub], dtype=object)
        return out

    @property
    def threshold_(self) -> float:
        """The multi-label threshold in use: ``threshold``, else the method's default."""
        return float(self.threshold) if self.threshold is not None else THRESHOLDS.get(self.method, 0.15)

    def names(self) -> dict[str, str]:
        """Theme id → display name."""
        self._check()
        return {t["id"]: t["name"] for t in self.themes_}

    def themes(self) -> pd.DataFrame:
        """The fitted themes as a table: id, name, keywords, size, share, quotes, pinned, source, subthemes."""
        self._check()
        f = pd.DataFrame(self.themes_)
        total = f["size"].sum()
        f.insert(4, "share", f["size"] / total if total else 0.0)
        return f

    def hierarchy(self) -> pd.DataFrame:
        """Theme → sub-theme as a tidy table: one row per sub-theme (or per theme without sub-themes).

        Columns ``theme, theme_name, theme_size, subtheme, subtheme_name, size, keywords``.
        """
        self._check()
        rows = []
        for t in self.themes_:
            base = {"theme": t["id"], "theme_name": t["name"], "theme_size": t["size"]}
            subs = t.get("subthemes") or [None]
            for s in subs:
                rows.append(
                    {
                        **base,
                        "subtheme": None if s is None else s["id"],
                        "subtheme_name": None if s is None else s["name"],
                        "size": t["size"] if s is None else s["size"],
                        "keywords": t["keywords"] if s is None else s["keywords"],
                    }
                )
        return pd.DataFrame(rows)

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
        """Give theme (or sub-theme) ``theme_id`` the display name ``name``; returns ``self``."""
        if str(name).strip().casefold() in (OTHER_ID, OTHER_NAME.casefold()):
            raise ConfigError(
                f"theme name {name!r} is reserved for the texts without a theme; choose another name such as 'Other issues'"
            )
        for t in getattr(self, "themes_", []):
            for s in t.get("subthemes", []):
                if s["id"] == theme_id:
                    s["name"] = str(name)
                    return self
        self._get(theme_id)["name"] = str(name)
        return self

    def pin(self, theme_id: str, pinned: bool = True) -> ThemeExtractor:
        """Pin (or unpin) a theme so that it survives :meth:`fit` on new text; returns ``self``."""
        self._get(theme_id)["pinned"] = bool(pinned)
        return self

    def merge(self, a: str, b: str, name: str | None = None) -> ThemeExtractor:
        """Merge discovered theme ``b`` into ``a`` (size-weighted mean vector); returns ``self``.

        The merged theme keeps id ``a``; it is pinned if either part was. The sub-themes of both
        become sub-themes of ``a``.
        """
        ta, tb = self._get(a), self._get(b)
        if a == b:
            raise ConfigError(f"cannot merge theme {a!r} with itself; give two different theme ids")
        if "rule" in (ta["source"], tb["source"]):
            raise ConfigError(f"themes {a!r} and {b!r}: rule themes cannot be merged; edit the rules instead")
        subs = dict(zip([p[1] for p in self._sub_ids()], self.subvectors_, strict=True))
        ia, ib = self._col(a), self._col(b)
        wa, wb = max(ta["size"], 1), max(tb["size"], 1)
        v = (wa * self.vectors_[ia] + wb * self.vectors_[ib])[None, :]
        if self.method == "vectors":  # the members' mean cosine with each term
            v = np.round(v / (wa + wb), VECTOR_DECIMALS)[0]
        else:
            v = unit_rows(_truncate(v, MAX_TERMS))[0]
        self.vectors_[ia] = v
        self.vectors_ = np.delete(self.vectors_, ib, axis=0)
        keywords = list(dict.fromkeys(ta["keywords"] + tb["keywords"]))[: self.n_keywords] or self._keywords(v)
        ta.update(
            size=ta["size"] + tb["size"],
            quotes=(ta["quotes"] + tb["quotes"])[: self.n_quotes],
            keywords=keywords,
            pinned=ta["pinned"] or tb["pinned"],
            source="merged",
            subthemes=ta.get("subthemes", []) + tb.get("subthemes", []),
        )
        ta["name"] = str(name) if name else f"{ta['name']} · {tb['name']}"
        self.themes_.remove(tb)
        order = [p[1] for p in self._sub_ids()]
        self.subvectors_ = np.array([subs[s] for s in order]) if order else np.zeros((0, self.vectors_.shape[1]))
        return self

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of parameters and fitted state (exact round trip via :meth:`from_dict`)."""
        self._check()
        params = {
            "n_themes": self.n_themes,
            "rules": {k: list(v) if not isinstance(v, str) else [v] for k, v in (self.rules or {}).items()},
            "method": self.method,
            "analyzer": self.analyzer,
            "min_df": self.min_df,
            "max_df": self.max_df,
            "ngram_range": list(self.ngram_range),
            "threshold": self.threshold,
            "n_keywords": self.n_keywords,
            "n_quotes": self.n_quotes,
            "auto_range": list(self.auto_range),
            "subthemes": self.subthemes,
            "min_subtheme": self.min_subtheme,
            "dimensions": self.dimensions,
            "random_state": self.random_state,
            "categories": self.categories,
            "lsa": self.lsa,
        }
        return {
            "format": FORMAT,
            "params": params,
            "n_themes_": self.n_themes_,
            "vocabulary": list(self.vocabulary_),
            "surface": dict(self.surface_),
            "idf": [float(w) for w in self.idf_],
            "vectors": _sparse_rows(self.vectors_),
            "subvectors": _sparse_rows(self.subvectors_),
            "general": _sparse_rows(self.general_),
            "other_score": self.other_score_,
            "handles": list(self.handles_),
            "themes": [dict(t) for t in self.themes_],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThemeExtractor:
        """Rebuild a fitted extractor from :meth:`to_dict` output (format 2, or format 1 of earlier versions)."""
        if not isinstance(data, Mapping) or data.get("format") not in READABLE_FORMATS:
            got = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise ConfigError(
                f"theme model format is {got!r}; expected {FORMAT!r} as written by ThemeExtractor.to_dict"
            )
        p = dict(data["params"])
        p["ngram_range"] = tuple(p["ngram_range"])
        p["auto_range"] = tuple(p["auto_range"])
        if data["format"] == "cxlens.themes/1":  # word analyzer, no sub-themes
            p.update(analyzer="words", subthemes=False)
        self = cls(**p)
        self.n_themes_ = data["n_themes_"]
        self.vocabulary_ = list(data["vocabulary"])
        self.surface_ = dict(data.get("surface", {}))
        self.idf_ = np.asarray(data["idf"], dtype=np.float64)
        self.vectors_ = _dense_rows(data["vectors"], len(self.vocabulary_))
        self.subvectors_ = _dense_rows(data.get("subvectors", []), len(self.vocabulary_))
        self.general_ = _dense_rows(data.get("general", []), len(self.vocabulary_))
        self.other_score_ = data.get("other_score")
        self.handles_ = list(data.get("handles", []))
        self._rules = compile_rules(self.rules)
        self.themes_ = [
            dict(
                t,
                keywords=list(t["keywords"]),
                quotes=list(t["quotes"]),
                subthemes=[dict(s, keywords=list(s["keywords"])) for s in t.get("subthemes", [])],
            )
            for t in data["themes"]
        ]
        return self


def _category(
    members: np.ndarray, cats: tuple[list[str], Any] | None, top: set[str], lead: set[str] | None = None
) -> str | None:
    """The CX category the members mention most distinctively (share × log lift), if any qualifies.

    A category qualifies when at least :data:`CATEGORY_SHARE` of the members mention it, that is
    :data:`CATEGORY_LIFT` times the share of the *other* texts (smoothed: (mentions + 1) / (texts +
    1)) — members against the rest, as their key phrases are scored — and one of its terms is among
    the members' own key phrases ``top`` (so that the name says what the theme's own words say).
    Against the whole corpus a theme holding many of the category's texts could not reach the lift,
    as it is a large part of the corpus itself. When the terms ``lead`` of the phrase the name will
    show after the category belong to a qualifying category, that category is taken, so the two
    parts of a name agree ("Customer service · hold", not "Booking and website · hold" for members
    of whom 58 % mention customer service and 37 % booking).
    """
    if cats is None or not len(members):
        return None
    names, hits = cats
    share = hits[members].mean(axis=0)
    rest = np.ones(len(hits), dtype=bool)
    rest[members] = False
    if rest.any():  # the other texts' share, smoothed (+1) so that a category no other text mentions has a finite lift
        base = (hits[rest].sum(axis=0) + 1.0) / (rest.sum() + 1.0)
    else:
        base = hits.mean(axis=0)
    lift = np.divide(share, base, out=np.zeros_like(share), where=base > 0)
    terms = lexicon.category_terms()
    own = np.array([bool(terms.get(n, frozenset()) & top) for n in names])
    ok = (share >= CATEGORY_SHARE) & (lift >= CATEGORY_LIFT) & own
    if not ok.any():
        return None
    agree = ok & np.array([bool(terms.get(n, frozenset()) & (lead or set())) for n in names])
    if agree.any():
        ok = agree
    score = np.where(ok, share * np.log(np.maximum(lift, 1.0)), -np.inf)
    return names[int(np.argmax(score))]


def _distinct(name: str, keywords: Sequence[str], taken: set[str]) -> str:
    """``name``, or, when another theme already has it, ``name · `` its first key phrase sharing no word with it."""
    if name not in taken:
        return name
    words = set(name.lower().replace("·", " ").split())
    for k in keywords:
        if not words & set(k.lower().split()) and f"{name} · {k}" not in taken:
            return f"{name} · {k}"
    return name


def _with_lsa(x, words: np.ndarray, dimensions: int, seed: int) -> np.ndarray:
    """Term coordinates of word vectors and of LSA side by side, each block weighted equally.

    LSA (truncated SVD of the TF-IDF rows; Deerwester et al. 1990) places a text by the terms it
    uses; the corpus word vectors by what those terms co-occur with. Each block is divided by the
    mean length of the texts' vectors in it, so that both weigh the same in a text's vector
    ``x @ terms`` (one linear map: a theme stays a vector over terms).
    """
    from sklearn.utils.extmath import randomized_svd

    k = min(dimensions, min(x.shape) - 1)
    if k < 1:
        return words
    _, _, vt = randomized_svd(x, k, random_state=seed)
    blocks = []
    for block in (words, vt.T):
        size = np.linalg.norm(np.asarray(x @ block), axis=1)
        mean = float(size[size > 0].mean()) if (size > 0).any() else 1.0
        blocks.append(block / mean)
    terms = np.hstack(blocks)
    # rows of mean length 1, like the unit word vectors alone, so that scores keep their scale (a
    # term's LSA part is long when the term weighs in the main topics and short when it is rare)
    size = np.linalg.norm(terms, axis=1)
    return terms / (float(size[size > 0].mean()) if (size > 0).any() else 1.0)


def _handles(texts: Sequence[Any], share: float) -> list[str]:
    """The @handles (lower case, letters only) that at least ``share`` of ``texts`` address, most used first."""
    counts: dict[str, int] = {}
    for t in texts:
        if isinstance(t, str) and "@" in t:
            for h in {m.lower() for m in _HANDLE.findall(t)}:
                if h[1:].isalpha():
                    counts[h] = counts.get(h, 0) + 1
    need = share * len(texts)
    return [h for h, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= need and n > 0]


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two theme vectors over the vocabulary (0 when either is constant)."""
    a, b = a - a.mean(), b - b.mean()
    n = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / n) if n > 0 else 0.0


def _known(x) -> np.ndarray:
    """True for the rows (texts) of a CSR matrix with at least one known term."""
    return np.diff(sparse.csr_matrix(x).indptr) > 0


def _as_list(texts: Any) -> list[Any]:
    """``texts`` as a list, a missing text (None, NaN) as ``""``."""
    if isinstance(texts, str):
        raise ConfigError(f"texts is a single string {texts[:40]!r}; expected a sequence of texts, e.g. [text]")
    return ["" if t is None or (isinstance(t, float) and math.isnan(t)) else t for t in texts]


def _sparse_rows(h: np.ndarray) -> list[dict[str, list]]:
    return [{"terms": [int(k) for k in np.flatnonzero(v)], "weights": [float(w) for w in v[v != 0]]} for v in h]


def _dense_rows(rows: Sequence[Mapping[str, Any]], width: int) -> np.ndarray:
    h = np.zeros((len(rows), width))
    for i, v in enumerate(rows):
        h[i, v["terms"]] = v["weights"]
    return h


# -- helpers ----------------------------------------------------------------------------------
def _truncate(h: np.ndarray, m: int) -> np.ndarray:
    h = np.array(h, dtype=np.float64)
    if h.shape[1] > m:
        cut = np.argpartition(-h, m, axis=1)[:, m:]
        np.put_along_axis(h, cut, 0.0, axis=1)
    return h
