"""`interviews themes` lists the customer turns without a theme as "Other (no theme)", last, with
``theme_summary``'s share (of every assigned turn). The stored themes are written by hand (as the voice
themes job stores them), so every count below is known; the oracle is that table of turns."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import cxlens

from .test_interviews import SRT, TXT, VTT

ANN1 = "Honestly it was awful, the card form kept failing. Email me at [EMAIL] if you need the order."
BOB1 = "It arrived broken and support never answered. I called [PHONE] three times."
CARLA2 = "The app crashed twice at payment, which was frustrating."


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    root = tmp_path_factory.mktemp("ivthemes")
    d = root / "t"
    d.mkdir()
    for name, text in (("c-ann.vtt", VTT), ("c-bob.srt", SRT), ("c-carla.txt", TXT)):
        (d / name).write_text(text, encoding="utf-8")
    path = root / "w.duckdb"
    with cxlens.open(path) as ws:
        ws.interviews.import_dir(d)
        cust = ws.interviews.turns().query("role == 'customer'")
        # the five customer turns: Ann's two and Bob's one get no theme, Carla's crash is "payment", and
        # Carla's first turn is not assigned yet (no stored row: in no group and no share)
        by = {(r.interview_id, r.turn): r.turn_id for r in cust.itertuples()}
        assert sorted(by) == [("iv-c-ann", 1), ("iv-c-ann", 3), ("iv-c-bob", 1), ("iv-c-carla", 1), ("iv-c-carla", 3)]
        stored = [(by["iv-c-ann", 1], None), (by["iv-c-ann", 3], None), (by["iv-c-bob", 1], None),
                  (by["iv-c-carla", 3], "payment")]  # fmt: skip
        with ws.transaction(changes=["verbatim_themes"]) as cur:  # what the voice themes job stores
            for tid, theme in stored:
                cur.execute("INSERT INTO verbatim_themes VALUES (?, ?, NULL, 'test')", [f"interview:{tid}", theme])
    return path


#: by hand: 4 assigned turns; "payment" 1 turn (Carla), no theme 3 turns in 2 interviews (Ann, Bob)
EXPECTED = [
    {"theme": "payment", "name": "payment", "issue": True, "participants": 1, "turns": 1, "share": 0.25,
     "quotes": [CARLA2]},
    {"theme": "other", "name": "Other (no theme)", "issue": False, "participants": 2, "turns": 3, "share": 0.75,
     "quotes": [ANN1, BOB1]},  # one per interview first, the longest turn of each
]  # fmt: skip


def test_interview_themes_list_the_turns_without_a_theme_last(wspath):
    with cxlens.open(wspath) as ws:
        got = ws.interviews.themes()
    assert got.to_dict("records") == EXPECTED  # last although the largest
    assert got["share"].sum() == pytest.approx(1.0)


def test_cli_interview_themes_list_the_other_group(wspath):
    from typer.testing import CliRunner

    from cxlens.cli import app

    run = lambda *a: CliRunner().invoke(app, ["-w", str(wspath), *a], catch_exceptions=False)  # noqa: E731
    r = run("interviews", "themes", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == EXPECTED
    r = run("interviews", "themes", "--format", "csv")
    assert r.exit_code == 0, r.output
    import io

    csv = pd.read_csv(io.StringIO(r.stdout))
    assert csv["theme"].tolist() == ["payment", "other"] and csv["name"].tolist()[-1] == "Other (no theme)"
    assert csv["quotes"].tolist()[-1] == f"{ANN1} | {BOB1}"
