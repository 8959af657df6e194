"""Word vectors learnt from a corpus's own co-occurrences (no download): PPMI + truncated SVD.

Used by the default theme method (:class:`cxlens.voice.themes.ThemeExtractor`, ``method="vectors"``)
so that words a short text uses interchangeably ("bag", "luggage", "baggage") land near each other.

Examples
--------
>>> import numpy as np
>>> from scipy import sparse
>>> b = sparse.csc_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]]))
>>> w = word_vectors(b, np.array([True, True, True]), dimensions=2, seed=0)
>>> w.shape, bool(np.allclose(np.linalg.norm(w, axis=1), 1.0))
((3, 2), True)
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["unit_rows", "word_vectors"]


def unit_rows(h: np.ndarray) -> np.ndarray:
    """Rows of ``h`` scaled to unit length (zero rows stay zero)."""
    n = np.linalg.norm(h, axis=1, keepdims=True)
    return np.divide(h, n, out=np.zeros_like(h, dtype=np.float64), where=n > 0)


def word_vectors(binary, contexts: np.ndarray, dimensions: int, seed: int) -> np.ndarray:
    """Unit word vectors of every term from its co-occurrence with single words in the same text.

    Positive PMI with context-distribution smoothing (exponent 0.75), truncated SVD and the
    singular values weighted by their square root (Levy, Goldberg & Dagan 2015, TACL 3).
    """
    from sklearn.utils.extmath import randomized_svd

    b = sparse.csc_matrix(binary, dtype=np.float64)
    ctx = np.flatnonzero(contexts)
    co = (b.T @ b[:, ctx]).tocoo()
    off = co.row != ctx[co.col]  # a word is not its own context
    r, c, v = co.row[off], co.col[off], co.data[off]
    n_terms = b.shape[1]
    k = min(dimensions, n_terms - 1, len(ctx) - 1)
    if v.size == 0 or k < 1:
        return np.eye(n_terms)
    total = v.sum()
    p_word = np.bincount(r, weights=v, minlength=n_terms) / total
    p_ctx = np.bincount(c, weights=v, minlength=len(ctx)) ** 0.75
    p_ctx /= p_ctx.sum()
    pmi = np.log(v / total / (p_word[r] * p_ctx[c]))
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (r[keep], c[keep])), shape=(n_terms, len(ctx)))
    if min(ppmi.shape) <= 800:  # small: an exact SVD is faster than the randomized one
        u, s, _ = np.linalg.svd(ppmi.toarray(), full_matrices=False)
        u, s = u[:, :k] * np.sign(u[:, :k].sum(axis=0) + 1e-300), s[:k]  # fixed signs: deterministic
    else:
        u, s, _ = randomized_svd(ppmi, k, random_state=seed)
    return unit_rows(u * np.sqrt(s))
