"""The LLM analyser against a real local HTTP server speaking the chat completions protocol."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import cxlens
from cxlens.errors import ConfigError
from cxlens.voice.llm import LLM_SETTING, LLMAnalyzer, llm_analyzer
from cxlens.voice.sentiment import SentimentAnalyzer, default_model


class _Handler(BaseHTTPRequestHandler):
    """Deterministic chat completions: 'love' → positive 0.9, 'hate' → negative -0.7, else neutral 0.
    A batch containing BROKEN gets prose instead of JSON, SLOW sleeps past the client timeout."""

    requests: list[dict] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        items = json.loads(body["messages"][-1]["content"])
        texts = [it["text"] for it in items]
        if any("SLOW" in t for t in texts):
            time.sleep(1.5)
        if any("BROKEN" in t for t in texts):
            content = "Sure! Here is my analysis: mostly fine."
        else:
            out = []
            for it in items:
                t = it["text"].lower()
                lab, s = ("positive", 0.9) if "love" in t else ("negative", -0.7) if "hate" in t else ("neutral", 0)
                out.append({"i": it["i"], "label": lab, "score": s})
            content = "```json\n" + json.dumps(out) + "\n```"
        reply = {"id": "x", "object": "chat.completion", "model": body["model"],
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}  # fmt: skip
        data = json.dumps(reply).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out
            pass


@pytest.fixture()
def llm_server():
    _Handler.requests = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_llm_analyser_speaks_the_chat_completions_protocol(llm_server):
    a = LLMAnalyzer(llm_server, "test-model", "sk-test", batch_size=2)
    assert isinstance(a, SentimentAnalyzer)
    res = a.score(["I love it", "I hate the queue", "It arrived", None, "love love"])
    assert res["label"].tolist() == ["positive", "negative", "neutral", "neutral", "positive"]
    np.testing.assert_allclose(res["score"], [0.9, -0.7, 0.0, 0.0, 0.9])
    np.testing.assert_allclose(res["score"], res["p_positive"] - res["p_negative"])
    np.testing.assert_allclose(res[["p_negative", "p_neutral", "p_positive"]].sum(axis=1), 1.0)
    assert res.attrs["llm_failed"] == 0
    reqs = _Handler.requests
    assert len(reqs) == 3  # 5 texts in batches of 2
    assert {r["path"] for r in reqs} == {"/v1/chat/completions"}
    assert {r["auth"] for r in reqs} == {"Bearer sk-test"}
    assert reqs[0]["body"]["model"] == "test-model" and reqs[0]["body"]["temperature"] == 0
    assert json.loads(reqs[0]["body"]["messages"][-1]["content"]) == [
        {"i": 0, "text": "I love it"}, {"i": 1, "text": "I hate the queue"}
    ]  # fmt: skip


def test_bad_and_slow_replies_fall_back_to_the_shipped_model(llm_server):
    a = LLMAnalyzer(llm_server, "m", timeout=0.5, batch_size=1)
    texts = ["I love it", "BROKEN reply please, terrible service", "SLOW and awful"]
    res = a.score(texts)
    assert res.attrs["llm_failed"] == 2
    assert res.loc[0, "label"] == "positive" and res.loc[0, "score"] == pytest.approx(0.9)
    expected = default_model().score(texts[1:])
    np.testing.assert_allclose(res.loc[1:, "score"].to_numpy(float), expected["score"].to_numpy())
    assert res.loc[1:, "label"].tolist() == expected["label"].tolist()
    # each failed batch was retried once: 1 + 2 + 2 requests
    assert len(_Handler.requests) == 5


def test_unreachable_server_falls_back_too():
    a = LLMAnalyzer("http://127.0.0.1:9", "m", timeout=0.5)
    res = a.score(["awful"])
    assert res.attrs["llm_failed"] == 1 and res["label"].item() == default_model().score(["awful"])["label"].item()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("no json here", "no JSON array"),
        ('[{"i": 0, "label": "great", "score": 1}]', "bad item"),
        ('[{"i": 5, "label": "positive"}]', "bad item"),
        ('[{"i": 0, "label": "positive"}]', "1 texts missing"),
    ],
)
def test_parse_rejects_replies_that_do_not_answer_every_text(content, error):
    with pytest.raises(ValueError, match=error):
        LLMAnalyzer.parse(content, 2)


def test_parse_accepts_fenced_json_and_clips_scores():
    got = LLMAnalyzer.parse('```json\n[{"i": 1, "label": "mixed"}, {"i": 0, "label": "positive", "score": 3}]\n```', 2)
    assert got == [("positive", 1.0), ("mixed", 0.0)]


def test_never_configured_means_never_called_and_keys_stay_out_of_workspaces(llm_server):
    ws = cxlens.open(":memory:")
    assert llm_analyzer(ws, env={}) is None
    a = llm_analyzer(ws, env={"CXLENS_LLM_BASE_URL": llm_server, "CXLENS_LLM_MODEL": "m", "CXLENS_LLM_API_KEY": "k"})
    assert (a.base_url, a.model, a.api_key) == (llm_server, "m", "k")
    ws.set_setting(LLM_SETTING, {"base_url": llm_server, "model": "ws-model", "api_key_env": "MY_KEY", "batch_size": 3})
    a = llm_analyzer(ws, env={"MY_KEY": "secret"})
    assert (a.model, a.api_key, a.batch_size, a.name) == ("ws-model", "secret", 3, "llm:ws-model")
    ws.set_setting(LLM_SETTING, {"base_url": llm_server, "model": "m", "api_key": "sk-plain"})
    with pytest.raises(ConfigError, match="keys are not stored in workspaces"):
        llm_analyzer(ws, env={})
    with pytest.raises(ConfigError, match="not an http"):
        LLMAnalyzer("localhost:11434", "m")


def test_cli_analyse_with_the_llm_analyser_scores_new_verbatims_only(llm_server, tmp_path, monkeypatch):
    import pandas as pd
    from typer.testing import CliRunner

    from cxlens.cli import app

    p = tmp_path / "w.duckdb"
    with cxlens.open(p) as ws:
        ws.load("feedback", pd.DataFrame({"feedback_id": ["a", "b"], "ts": ["2024-01-01", "2024-01-02"],
                                          "metric": ["nps", "nps"], "score": [9, 2],
                                          "comment": ["I love the new app, great work", "I hate waiting on hold"]}))  # fmt: skip
    monkeypatch.setenv("CXLENS_LLM_BASE_URL", llm_server)
    monkeypatch.setenv("CXLENS_LLM_MODEL", "m")
    runner = CliRunner()
    r = runner.invoke(app, ["-w", str(p), "voice", "analyse", "--analyser", "llm", "--format", "json"])
    assert r.exit_code == 0, r.output
    with cxlens.open(p) as ws:
        got = ws.sql("SELECT verbatim_id, sentiment_label, sentiment_score, model FROM verbatim_analysis ORDER BY 1")
    assert got["sentiment_label"].tolist() == ["positive", "negative"]
    assert got["sentiment_score"].tolist() == [0.9, -0.7] and set(got["model"]) == {"llm:m"}
    n = len(_Handler.requests)
    again = runner.invoke(app, ["-w", str(p), "voice", "analyse", "--analyser", "llm"])
    assert again.exit_code == 0 and "0 verbatims analysed now" in again.output
    assert len(_Handler.requests) == n  # incremental: nothing new, the LLM is not called
