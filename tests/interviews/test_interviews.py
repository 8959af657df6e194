"""Interviews: transcripts in every format with speaker attribution, customer turns as verbatims
(redacted, analysed), the interviewer's not; recruit lists; CLI, HTTP API and GDPR erase."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cxlens
from cxlens.errors import ConfigError, ParameterError, SchemaError
from cxlens.interviews import parse_srt, parse_text, parse_vtt

from .. import live
from ..conftest import running

VTT = """WEBVTT

NOTE recorded on Zoom

1
00:00:01.000 --> 00:00:04.500
<v Interviewer>How was the checkout?</v>

2
00:00:05.000 --> 00:00:09.000
<v Ann Lee>Honestly it was awful, the card form kept failing.</v>

3
00:00:09.000 --> 00:00:12.250
<v Ann Lee>Email me at ann@example.com if you need the order.</v>

4
00:01:02.000 --> 00:01:05.000
Interviewer: Anything you liked?

5
00:01:06.000 --> 00:01:08.000
<v.loud Ann Lee>The delivery was fast &amp; friendly.</v>
"""

SRT = """1
00:00:00,500 --> 00:00:03,000
Moderator: Tell me about your last order.

2
00:00:03,500 --> 00:00:07,000
Bob: It arrived broken and support never answered.

3
00:00:07,000 --> 00:00:09,000
I called 020 7946 0958 three times.

4
01:02:03,004 --> 01:02:05,000
[Moderator] Thanks Bob.
"""

TXT = """Interviewer: Thanks for joining. What do you use us for?
Carla Diaz: Mostly gifts for my family.
It is usually easy.
[00:05:10] Interviewer: Any problems?
[00:05:15] Carla Diaz: The app crashed twice at payment, which was frustrating.
"""


def test_webvtt_turns_voices_merging_and_times():
    turns = parse_vtt(VTT)
    assert [(t.speaker, t.start, t.end) for t in turns] == [
        ("Interviewer", 1.0, 4.5), ("Ann Lee", 5.0, 12.25), ("Interviewer", 62.0, 65.0), ("Ann Lee", 66.0, 68.0)
    ]  # fmt: skip
    assert (
        turns[1].text
        == "Honestly it was awful, the card form kept failing. Email me at ann@example.com if you need the order."
    )
    assert turns[3].text == "The delivery was fast & friendly."  # tags stripped, entities decoded


def test_srt_labels_continuations_and_hours():
    turns = parse_srt(SRT)
    assert [(t.speaker, t.start) for t in turns] == [("Moderator", 0.5), ("Bob", 3.5), ("Moderator", 3723.004)]
    assert turns[1].text.endswith("I called 020 7946 0958 three times.")  # unlabeled cue continues Bob


def test_plain_text_labels_stamps_and_continuation_lines():
    turns = parse_text(TXT)
    assert [(t.speaker, t.start) for t in turns] == [("Interviewer", None), ("Carla Diaz", None),
                                                     ("Interviewer", 310.0), ("Carla Diaz", 315.0)]  # fmt: skip
    assert turns[1].text == "Mostly gifts for my family. It is usually easy."


def test_bad_transcripts_say_what_is_wrong():
    with pytest.raises(SchemaError, match="WEBVTT"):
        parse_vtt("1\n00:00:01.000 --> 00:00:02.000\nhi\n")
    with pytest.raises(SchemaError, match="'Speaker: text' labels"):
        parse_text("just some notes\nwithout speakers\n")
    with pytest.raises(SchemaError, match="cue time"):
        parse_srt("1\n00:00:xx --> 00:00:02,000\nhi\n")


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    root = tmp_path_factory.mktemp("iv")
    d = root / "transcripts"
    d.mkdir()
    (d / "c-ann.vtt").write_text(VTT, encoding="utf-8")  # linked by file name = customer id
    (d / "call-bob.srt").write_text(SRT, encoding="utf-8")  # linked by the participant's name
    (d / "carla.txt").write_text(TXT, encoding="utf-8")  # linked by the manifest
    (d / "manifest.csv").write_text("file,customer_id,interviewed_at\ncarla.txt,c-carla,2026-03-02 15:00\n")
    (d / "notes.pdf").write_bytes(b"%PDF-1.4 ignored")
    path = root / "iv.duckdb"
    customers = pd.DataFrame({"customer_id": ["c-ann", "c-bob", "c-carla", "c-dan", "c-eve", "c-fay", "c-gus"],
                              "name": ["Ann Lee", "Bob", "Carla Diaz", "Dan", "Eve", "Fay", "Gus"],
                              "email": [f"{n}@example.com" for n in "abcdefg"],
                              "segment": ["smb", "smb", "smb", "smb", "enterprise", "enterprise", "smb"]})  # fmt: skip
    with cxlens.open(path) as ws:
        ws.load("customers", customers)
        now = pd.Timestamp("2026-03-01")
        rows = []
        answers = {"c-ann": "yes", "c-bob": "Yes", "c-dan": "true", "c-eve": "yes", "c-fay": "1", "c-gus": "no"}
        for i, (cid, a) in enumerate(answers.items()):
            rows.append(["nps-q1", f"r{i}", cid, cid, None, 3.0 + i, None, json.dumps({"interview_opt_in": a}),
                         "en", None, None, None, now, now])  # fmt: skip
        rows.append(["nps-q1", "r-anon", "anon-9", None, "anon-9", 9.0, None, '{"interview_opt_in": "yes"}', "en",
                     None, None, None, now, now])  # fmt: skip
        scores = [("c-dan", 0.9), ("c-eve", 0.2), ("c-fay", 0.7), ("c-bob", 0.5), ("c-ann", 0.95)]
        with ws.transaction(changes=["survey_responses", "customer_scores", "collect_identities"]) as cur:
            cur.executemany(f"INSERT INTO survey_responses VALUES ({', '.join('?' * 14)})", rows)
            cur.executemany("INSERT INTO customer_scores (customer_id, churn_risk, computed_at) VALUES (?, ?, now())",
                            scores)  # fmt: skip
            cur.execute("INSERT INTO collect_identities VALUES ('anon-9', 'c-gus', NULL, NULL)")
    return path, d


def _run(path, *args):
    from typer.testing import CliRunner

    from cxlens.cli import app

    return CliRunner().invoke(app, ["-w", str(path), *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def imported(wspath):
    path, d = wspath
    r = _run(path, "import", "interviews", str(d))
    assert r.exit_code == 0, r.stderr
    assert "3 interviews imported" in r.stderr
    return path


def test_import_links_participants_and_attributes_speakers(imported):
    with cxlens.open(imported, read_only=True) as ws:
        iv = ws.interviews.list().set_index("interview_id")
        turns = ws.interviews.turns()
    assert iv.loc["iv-c-ann", "customer_id"] == "c-ann" and iv.loc["iv-c-ann", "participant"] == "Ann Lee"
    assert iv.loc["iv-call-bob", "customer_id"] == "c-bob"  # by the participant's name
    assert iv.loc["iv-carla", "customer_id"] == "c-carla"
    assert str(iv.loc["iv-carla", "interviewed_at"]) == "2026-03-02 15:00:00"
    assert dict(iv["format"]) == {"iv-c-ann": "vtt", "iv-call-bob": "srt", "iv-carla": "text"}
    roles = turns.groupby("interview_id")["role"].apply(list).to_dict()
    assert roles["iv-c-ann"] == ["interviewer", "customer", "interviewer", "customer"]
    assert roles["iv-call-bob"] == ["interviewer", "customer", "interviewer"]
    carla = turns[turns.interview_id == "iv-carla"]
    assert str(carla.ts.iloc[3]) == "2026-03-02 15:05:15"  # interview start + the turn's time


def test_only_customer_turns_become_redacted_verbatims_and_get_analysed(imported):
    from cxlens.voice.verbatims import analyse_verbatims, verbatims

    with cxlens.open(imported) as ws:
        v = verbatims(ws, sources=["interview"])
        a = analyse_verbatims(ws, sources=["interview"])
        everything = verbatims(ws)
    assert len(v) == 2 + 1 + 2 and set(v.source) == {"interview"} and set(v.channel) == {"interview"}
    assert not v.text.str.contains("How was the checkout|Tell me about|Any problems").any()  # interviewer's
    ann = v[v.customer_id == "c-ann"].text.tolist()
    assert "[EMAIL]" in ann[0] and "ann@example.com" not in " ".join(v.text)
    assert "[PHONE]" in v[v.customer_id == "c-bob"].text.iloc[0]
    assert len(a) == 5 and a.set_index("verbatim_id").loc["interview:iv-c-ann:1", "sentiment_label"] == "negative"
    assert (everything.source == "interview").sum() == 5  # interviews are part of all verbatims


def test_reimport_replaces_and_erase_clears_interviews(imported, wspath):
    _, d = wspath
    assert _run(imported, "import", "interviews", str(d)).exit_code == 0
    with cxlens.open(imported) as ws:
        assert ws.scalar("SELECT count(*) FROM interviews") == 3
        n_turns = ws.scalar("SELECT count(*) FROM interview_turns")
        assert n_turns == 4 + 3 + 4
        from cxlens.customers.profile import erase_customer

        erase_customer(ws, "c-ann")
        assert ws.scalar("SELECT count(*) FROM interviews WHERE customer_id = 'c-ann'") == 0
        assert ws.scalar("SELECT count(*) FROM interview_turns WHERE customer_id = 'c-ann'") == 0
        assert ws.scalar("SELECT count(*) FROM verbatim_analysis WHERE verbatim_id LIKE 'interview:iv-c-ann:%'") == 0
        assert ws.scalar("SELECT count(*) FROM interview_turns") == n_turns - 4


def test_candidates_filters_quotas_and_exclusions(imported):
    with cxlens.open(imported, read_only=True) as ws:
        all_ = ws.interviews.candidates()
        quota = ws.interviews.candidates(per_segment=1)
        risky = ws.interviews.candidates(min_churn_risk=0.6, segment="enterprise")
        kept = ws.interviews.candidates(exclude_interviewed=False)
        with pytest.raises(ParameterError, match="per_segment"):
            ws.interviews.candidates(per_segment=0)
    # opted in: ann, bob, dan (true), eve, fay (1), gus through his stitched anonymous answer; not gus's "no"…
    # interviewed (ann, bob) are excluded by default
    assert sorted(all_.customer_id) == ["c-dan", "c-eve", "c-fay", "c-gus"]
    assert sorted(kept.customer_id) == ["c-ann", "c-bob", "c-dan", "c-eve", "c-fay", "c-gus"] or sorted(
        kept.customer_id
    ) == ["c-bob", "c-dan", "c-eve", "c-fay", "c-gus"]  # c-ann may be erased by an earlier test
    assert all_[all_.segment == "smb"].customer_id.tolist()[0] == "c-dan"  # highest risk first
    assert quota.groupby("segment").size().to_dict() == {"enterprise": 1, "smb": 1}
    assert quota.set_index("segment").loc["enterprise", "customer_id"] == "c-fay"
    assert risky.customer_id.tolist() == ["c-fay"]


def test_http_api(imported):
    from cxlens.web import create_app

    with running(create_app(imported)) as url:
        listed = live.get(f"{url}/api/v1/interviews").json()
        assert {x["interview_id"] for x in listed} >= {"iv-call-bob", "iv-carla"}
        bob = live.get(f"{url}/api/v1/interviews/iv-call-bob").json()
        assert [t["role"] for t in bob] == ["interviewer", "customer", "interviewer"]
        assert "[PHONE]" in bob[1]["text"] and "7946" not in bob[1]["text"]
        assert live.get(f"{url}/api/v1/interviews/nope").status_code == 404
        c = live.get(f"{url}/api/v1/interviews/candidates", params={"per_segment": 1}).json()
        assert len(c) == 2
        assert live.get(f"{url}/api/v1/interviews/candidates", params={"per_segment": 0}).status_code == 422


def test_docx_without_python_docx_is_a_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "docx", None)  # as if python-docx were not installed: import fails
    (tmp_path / "a.docx").write_bytes(b"PK\x03\x04")
    with cxlens.open(":memory:") as ws, pytest.raises(ConfigError, match="pip install python-docx"):
        ws.interviews.import_dir(tmp_path)


def test_docx_transcript_with_speakers_and_stamps(tmp_path):
    docx = pytest.importorskip("docx")
    doc = docx.Document()
    doc.add_heading("Interview with Dana", level=1)  # a heading is not a turn
    for line in ["Interviewer: How did the return go?", "[00:00:12] Dana: Slow. I waited two weeks",
                 "for the refund and nobody wrote back.", "Interviewer: Thanks, Dana."]:  # fmt: skip
        doc.add_paragraph(line)
    d = tmp_path / "t"
    d.mkdir()
    doc.save(str(d / "c-dana.docx"))
    with cxlens.open(":memory:") as ws:
        ws.load("customers", pd.DataFrame({"customer_id": ["c-dana"], "name": ["Dana"]}))
        ws.interviews.import_dir(d)
        iv = ws.interviews.list()
        turns = ws.interviews.turns()
    assert iv.format.tolist() == ["docx"] and iv.customer_id.tolist() == ["c-dana"]
    body = turns[turns.role == "customer"]
    assert body.speaker.tolist() == ["Dana"] and body.start_s.tolist() == [12.0]
    assert body.text.iloc[0] == "Slow. I waited two weeks for the refund and nobody wrote back."
    assert turns[turns.role == "interviewer"].text.tolist()[-1] == "Thanks, Dana."
    (d / "c-dana.docx").write_bytes(b"PK\x03\x04 not a zip")
    with cxlens.open(":memory:") as ws, pytest.raises(SchemaError, match="c-dana.docx is not a readable DOCX"):
        ws.interviews.import_dir(d)


def test_dashboard_page_lists_interviews_and_candidates(imported):
    from cxlens.web import create_app

    with running(create_app(imported)) as url:
        page = live.get(f"{url}/interviews", params={"per_segment": 1})
        assert page.status_code == 200
        assert 'data-interview="iv-call-bob"' in page.text
        assert page.text.count("data-customer=") == 2
        assert "dan@example.com" not in page.text and "***" in page.text  # open mode masks PII


def test_themes_across_interviews_count_participants_with_quotes(imported):
    from cxlens.voice.verbatims import verbatims

    with cxlens.open(imported) as ws:
        v = verbatims(ws, sources=["interview"])
        themes = {
            vid: ("payment" if "card form" in t or "crashed" in t else "delivery")
            for vid, t in zip(v.verbatim_id, v.text, strict=True)
        }
        with ws.transaction(changes=["verbatim_themes"]) as cur:  # what the voice.themes job stores
            cur.executemany("INSERT OR REPLACE INTO verbatim_themes VALUES (?, ?, NULL, 'test')", list(themes.items()))
        t = ws.interviews.themes().set_index("theme")
    expected = {th: len({vid.rsplit(":", 1)[0] for vid, x in themes.items() if x == th}) for th in set(themes.values())}
    assert t["participants"].to_dict() == expected
    assert all(len(q) <= 3 for q in t["quotes"])
    assert "ann@example.com" not in " ".join(q for qs in t["quotes"] for q in qs)
    r = _run(imported, "interviews", "themes", "--format", "json")
    assert r.exit_code == 0 and {x["theme"] for x in json.loads(r.stdout)} == set(expected)
