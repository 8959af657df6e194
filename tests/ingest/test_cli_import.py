"""Imports through the CLI: the nine silent-corruption cases of issue 11, dialects, dry runs, and
every rejected import leaving the workspace file byte-for-byte unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import cxlens
from cxlens.cli import app

runner = CliRunner()


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


def cli(ws: Path, *args: str) -> Result:
    """``cxlens --workspace ws ARGS`` in this process; a cxlens error is reported as on stderr."""
    res = runner.invoke(app, ["--workspace", str(ws), *map(str, args)])
    err = ""
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        err = f"error: {res.exception}"
    return Result(res.exit_code if not err else 1, res.stdout, err + (res.stderr if res.stderr_bytes else ""))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def wsfile(tmp_path) -> Path:
    """A workspace file holding two feedback rows, closed (so its bytes can be compared)."""
    p = tmp_path / "ws.duckdb"
    good = tmp_path / "good.csv"
    good.write_text("feedback_id,ts,metric,score\ng1,2024-01-01,nps,9\ng2,2024-01-02,nps,4\n")
    assert cli(p, "import", "feedback", good).code == 0
    return p


def rows(ws: Path, sql: str) -> pd.DataFrame:
    with cxlens.open(ws) as w:
        return w.sql(sql)


def rejected(ws: Path, *args: str, expect: str) -> str:
    """Run an import that must fail; the file must be byte-for-byte unchanged. Returns the error."""
    before = digest(ws)
    res = cli(ws, *args)
    assert res.code != 0, res.out
    assert expect in res.err, res.err
    assert digest(ws) == before, "a rejected import changed the workspace file"
    return res.err


# -- 1. --dayfirst never re-reads ISO dates ----------------------------------------------------------
def test_dayfirst_leaves_iso_dates_alone(wsfile, tmp_path):
    f = tmp_path / "iso.csv"
    f.write_text("feedback_id,ts,metric,score\na,2025-03-04,nps,9\nb,2025-03-04T10:00:00Z,nps,9\nc,2025-03-13,nps,9\n")
    assert cli(wsfile, "import", "feedback", f, "--dayfirst").code == 0
    got = rows(wsfile, "SELECT feedback_id, ts FROM feedback WHERE feedback_id IN ('a','b','c') ORDER BY 1")
    assert got["ts"].tolist() == [
        pd.Timestamp("2025-03-04"),
        pd.Timestamp("2025-03-04 10:00"),
        pd.Timestamp("2025-03-13"),
    ]


# -- 2. one date format per column ------------------------------------------------------------------
def test_day_month_column_is_read_one_way_for_every_row(wsfile, tmp_path):
    f = tmp_path / "dm.csv"
    f.write_text("feedback_id,ts,metric,score\na,03/04/2025,nps,9\nb,13/04/2025,nps,9\n")
    res = cli(wsfile, "import", "feedback", f)
    assert res.code == 0, res.err
    got = rows(wsfile, "SELECT ts FROM feedback WHERE feedback_id IN ('a','b') ORDER BY feedback_id")["ts"]
    assert got.tolist() == [pd.Timestamp("2025-04-03"), pd.Timestamp("2025-04-13")]


def test_day_month_evidence_late_in_a_big_file_settles_the_whole_column(wsfile, tmp_path):
    # the only day > 12 is on the last row, far beyond the first chunk: every row is still read day first
    n = 1_100_000  # three chunks of 500,000 rows
    f = tmp_path / "late.csv"
    lines = (
        ["feedback_id,ts,metric,score"] + [f"r{i},03/04/2025,nps,7" for i in range(n - 1)] + ["last,25/04/2025,nps,7"]
    )
    f.write_text("\n".join(lines) + "\n")
    assert cli(wsfile, "import", "feedback", f).code == 0
    got = rows(
        wsfile,
        "SELECT min(ts) AS lo, max(ts) AS hi, count(*) AS n FROM feedback WHERE feedback_id <> 'g1' AND feedback_id <> 'g2'",
    )
    assert (got["lo"][0], got["hi"][0], got["n"][0]) == (pd.Timestamp("2025-04-03"), pd.Timestamp("2025-04-25"), n)


def test_ambiguous_and_mixed_day_month_columns_are_refused(wsfile, tmp_path):
    f = tmp_path / "amb.csv"
    f.write_text("feedback_id,ts,metric,score\na,03/04/2025,nps,9\nb,04/05/2025,nps,9\n")
    err = rejected(wsfile, "import", "feedback", f, expect="column 'ts' in amb.csv row 1 is '03/04/2025'")
    assert "--dayfirst" in err and "--monthfirst" in err
    f.write_text("feedback_id,ts,metric,score\na,04/13/2025,nps,9\nb,13/04/2025,nps,9\n")
    rejected(wsfile, "import", "feedback", f, expect="column 'ts' in amb.csv row 2 is '13/04/2025'")
    assert cli(wsfile, "import", "feedback", f.with_name("amb.csv"), "--monthfirst").code != 0


# -- 3. JSON Lines through the CLI --------------------------------------------------------------------
def test_jsonl_imports_from_the_cli(wsfile, tmp_path):
    f = tmp_path / "fb.jsonl"
    f.write_text(
        "".join(
            json.dumps({"feedback_id": f"j{i}", "ts": "2024-05-01", "metric": "nps", "score": i % 11}) + "\n"
            for i in range(50)
        )
    )
    res = cli(wsfile, "import", "feedback", f)
    assert res.code == 0, res.err
    assert "50 rows added from fb.jsonl" in res.out
    assert rows(wsfile, "SELECT sum(score) AS s FROM feedback WHERE feedback_id LIKE 'j%'")["s"][0] == sum(
        i % 11 for i in range(50)
    )


# -- 4. epoch times only with a stated unit, inside a plausible window ------------------------------------
def test_epoch_numbers_need_a_unit_and_a_plausible_date(wsfile, tmp_path):
    f = tmp_path / "ep.jsonl"
    f.write_text('{"feedback_id": "e1", "ts": 1709287200, "metric": "nps", "score": 9}\n')
    rejected(wsfile, "import", "feedback", f, expect="--epoch s")
    pq = tmp_path / "ep.parquet"
    pd.DataFrame({"feedback_id": ["e2"], "ts": [1709287200000], "metric": ["nps"], "score": [9]}).to_parquet(pq)
    rejected(wsfile, "import", "feedback", pq, expect="--epoch ms")
    # the wrong unit lands in 1970: refused, not stored
    rejected(wsfile, "import", "feedback", pq, "--epoch", "us", expect="expected a date from 1990-01-01")
    assert cli(wsfile, "import", "feedback", f, "--epoch", "s").code == 0
    assert cli(wsfile, "import", "feedback", pq, "--epoch", "ms").code == 0
    got = rows(wsfile, "SELECT feedback_id, ts FROM feedback WHERE feedback_id LIKE 'e%' ORDER BY 1")
    assert got["ts"].tolist() == [pd.Timestamp("2024-03-01 10:00:00")] * 2
    csv = tmp_path / "ep.csv"
    csv.write_text("feedback_id,ts,metric,score\ne3,1709287200,nps,9\n")
    rejected(wsfile, "import", "feedback", csv, expect="--epoch s")


def test_dates_outside_the_window_need_any_date(wsfile, tmp_path):
    f = tmp_path / "old.csv"
    f.write_text("feedback_id,ts,metric,score\no1,1985-06-01,nps,9\n")
    rejected(wsfile, "import", "feedback", f, expect="--any-date")
    assert cli(wsfile, "import", "feedback", f, "--any-date").code == 0


# -- 5. JavaScript Date.toString() keeps the offset's sign -----------------------------------------------
def test_javascript_date_string_offset_is_not_inverted(wsfile, tmp_path):
    f = tmp_path / "js.csv"
    f.write_text(
        'feedback_id,ts,metric,score\njs1,"Fri Mar 01 2024 10:00:00 GMT+0100 (Central European Standard Time)",nps,9\n'
    )
    assert cli(wsfile, "import", "feedback", f).code == 0
    assert rows(wsfile, "SELECT ts FROM feedback WHERE feedback_id = 'js1'")["ts"][0] == pd.Timestamp(
        "2024-03-01 09:00"
    )


# -- 6. identical rows without ids stay distinct --------------------------------------------------------
def test_identical_answers_without_ids_are_all_kept(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "same.csv"
    scores = [10, 10, 10, 3, 3, 8, 7]
    f.write_text("ts,metric,score,comment\n" + "".join(f"2024-05-01,nps,{s},\n" for s in scores))
    res = cli(ws, "import", "feedback", f)
    assert res.code == 0, res.err
    assert "7 rows added" in res.out
    frame = pd.read_csv(f)
    expected = 100 * ((frame.score >= 9).mean() - (frame.score <= 6).mean())
    with cxlens.open(ws) as w:
        nps = w.metrics.nps()
    assert abs(float(nps["nps"].iloc[0]) - expected) < 1e-9 and round(expected, 1) == 14.3
    again = cli(ws, "import", "feedback", f)
    assert "0 rows added" in again.out and "7 already present or repeated" in again.out
    assert rows(ws, "SELECT count(*) AS n FROM feedback")["n"][0] == 7


# -- 7. unknown mapped names and duplicated headers are errors -------------------------------------------
def test_unknown_mapped_column_and_duplicate_headers_are_refused(wsfile, tmp_path):
    f = tmp_path / "sv.csv"
    f.write_text("Response ID,ts,metric,score\nr1,2024-01-01,nps,9\n")
    rejected(wsfile, "import", "feedback", f, "--map", "feedbak_id=Response ID", expect="did you mean 'feedback_id'")
    dup = tmp_path / "dup.csv"
    dup.write_text("feedback_id,ts,metric,score,score\nd1,2024-01-01,nps,9,3\n")
    rejected(wsfile, "import", "feedback", dup, expect="two columns named 'score' (columns 4 and 5)")


# -- 8. nested JSON, Parquet lists/structs and 64-bit ids stay exact -------------------------------------
def test_nested_json_and_big_ids_are_stored_exactly(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "n.jsonl"
    big = 9007199254740993  # 2**53 + 1: not representable as a float
    f.write_text(
        json.dumps({"event_id": big, "customer_id": big + 2, "ts": "2024-01-01T00:00:00Z", "name": "order",
                    "via": {"channel": "web", "n": [1, 2]}}) + "\n"
        + json.dumps({"event_id": 5, "customer_id": None, "ts": "2024-01-02T00:00:00Z", "name": "visit"}) + "\n"
    )  # fmt: skip
    res = cli(ws, "import", "events", f)
    assert res.code == 0, res.err
    got = rows(ws, "SELECT event_id, customer_id, properties FROM events ORDER BY ts")
    assert got["event_id"].tolist() == [str(big), "5"] and got["customer_id"][0] == str(big + 2)
    assert json.loads(got["properties"][0]) == {"via": {"channel": "web", "n": [1, 2]}}
    pq = tmp_path / "n.parquet"
    pd.DataFrame({"event_id": ["p1"], "ts": [pd.Timestamp("2024-01-03")], "name": ["x"], "tags": [["a", "b"]],
                  "ctx": [{"page": "/x", "n": 3}]}).to_parquet(pq)  # fmt: skip
    assert cli(ws, "import", "events", pq).code == 0
    props = json.loads(rows(ws, "SELECT properties FROM events WHERE event_id = 'p1'")["properties"][0])
    assert props == {"tags": ["a", "b"], "ctx": {"page": "/x", "n": 3}}


def test_dotted_path_maps_a_nested_value(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"id": 7, "created_at": "2024-02-01T10:00:00Z", "via": {"channel": "email"}}) + "\n")
    res = cli(ws, "import", "tickets", f, "--map", "ticket_id=id", "--map", "channel=via.channel")
    assert res.code == 0, res.err
    assert rows(ws, "SELECT ticket_id, channel FROM tickets").values.tolist() == [["7", "email"]]


# -- 9. messages that point right -----------------------------------------------------------------------
def test_utf8_error_names_line_and_byte_of_the_file(wsfile, tmp_path):
    f = tmp_path / "latin.csv"
    f.write_bytes(
        b"feedback_id,ts,metric,score,comment\n"
        + b"".join(b"l%d,2024-01-01,nps,9,ok\n" % i for i in range(5))
        + "l9,2024-01-01,nps,9,café\n".encode("cp1252")
    )
    err = rejected(wsfile, "import", "feedback", f, expect="latin.csv is not UTF-8 text: byte 0xE9 on line 7")
    assert "--encoding cp1252" in err
    assert cli(wsfile, "import", "feedback", f, "--encoding", "cp1252").code == 0
    assert rows(wsfile, "SELECT comment FROM feedback WHERE feedback_id = 'l9'")["comment"][0] == "café"


def test_conflicting_duplicate_names_the_row_that_differs(wsfile, tmp_path):
    f = tmp_path / "dups.csv"
    f.write_text("feedback_id,ts,metric,score\nx,2024-01-01,nps,9\nx,2024-01-01,nps,9\nx,2024-01-01,nps,3\n")
    rejected(wsfile, "import", "feedback", f, expect="dups.csv rows 1 and 3 share feedback id 'x' but differ")


def test_messages_never_show_derived_ids(wsfile, tmp_path):
    f = tmp_path / "noid.csv"
    f.write_text("ts,metric,score\n2024-01-01,nps,9\n2024-01-01,nps,9\n2024-01-01,nps,12\n")
    err = rejected(wsfile, "import", "feedback", f, expect="column 'score' in noid.csv row 3 is '12'")
    assert "fe_" not in err


def test_semicolon_files_are_sniffed_and_a_wrong_delimiter_is_named(wsfile, tmp_path):
    f = tmp_path / "semi.csv"
    f.write_text("feedback_id;ts;metric;score;comment\ns1;2024-01-01;nps;9;bien, merci\n")
    assert cli(wsfile, "import", "feedback", f).code == 0
    assert rows(wsfile, "SELECT comment FROM feedback WHERE feedback_id = 's1'")["comment"][0] == "bien, merci"
    rejected(wsfile, "import", "feedback", f, "--delimiter", ",", expect="this file is separated by ';'")


# -- dialects -------------------------------------------------------------------------------------------
def test_utf16_tab_separated_with_bom(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "u16.csv"
    f.write_bytes("review_id\tts\trating\tbody\nu1\t2024-01-01\t5\tÇa marche\n".encode("utf-16"))
    assert cli(ws, "import", "reviews", f).code == 0
    assert rows(ws, "SELECT body FROM reviews")["body"][0] == "Ça marche"


def test_decimal_comma_and_thousands_only_when_stated(wsfile, tmp_path):
    f = tmp_path / "eu.csv"
    f.write_text('order_id;customer_id;ts;amount\no1;c1;2024-01-01;"1.234,50"\no2;c1;2024-01-02;4,5\n')
    rejected(wsfile, "import", "orders", f, expect="--decimal ,")
    res = cli(wsfile, "import", "orders", f, "--decimal", ",", "--thousands", ".")
    assert res.code == 0, res.err
    assert rows(wsfile, "SELECT amount FROM orders ORDER BY order_id")["amount"].tolist() == [1234.5, 4.5]


def test_quoted_multiline_fields_header_row_and_skip_rows(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "q.csv"
    f.write_text('exported by a tool\nid,when,value,text\n"Question id","Question ""when""","How likely…",\n'
                 'a1,2024-01-01,9,"line one\nline two, with comma"\n')  # fmt: skip
    res = cli(ws, "import", "feedback", f, "--header-row", "2", "--skip-rows", "1", "--map", "feedback_id=id",
              "--map", "ts=when", "--map", "score=value", "--map", "comment=text", "--set", "metric=nps")  # fmt: skip
    assert res.code == 0, res.err
    assert rows(ws, "SELECT comment FROM feedback")["comment"][0] == "line one\nline two, with comma"


def test_map_takes_column_names_with_commas_verbatim_and_mapping_file(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "c.csv"
    f.write_text('id,date,"How likely are you to recommend us, 0-10?",Extra\nc1,2024-01-01,10,x\n')
    res = cli(ws, "import", "feedback", f, "--map", "score=How likely are you to recommend us, 0-10?",
              "--map", "feedback_id=id", "--map", "ts=date", "--set", "metric=nps", "--drop", "Extra",
              "--save-mapping", tmp_path / "m.yaml")  # fmt: skip
    assert res.code == 0, res.err
    assert rows(ws, "SELECT score, properties FROM feedback").values.tolist() == [[10.0, None]]
    saved = (tmp_path / "m.yaml").read_text()
    assert "How likely are you to recommend us, 0-10?" in saved
    f2 = tmp_path / "c2.csv"
    f2.write_text('id,date,"How likely are you to recommend us, 0-10?",Extra\nc2,2024-01-02,3,y\n')
    assert cli(ws, "import", "feedback", f2, "--mapping", tmp_path / "m.yaml").code == 0
    assert rows(ws, "SELECT count(*) AS n FROM feedback")["n"][0] == 2


def test_skip_incomplete_counts_what_it_skips(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "inc.csv"
    f.write_text("feedback_id,ts,metric,score\na,2024-01-01,nps,9\nb,2024-01-01,nps,\nc,2024-01-01,nps,5\nd,,nps,5\n")
    rejected(ws if ws.exists() else _init(ws), "import", "feedback", f, expect="row 2 is empty")
    res = cli(ws, "import", "feedback", f, "--skip-incomplete")
    assert res.code == 0, res.err
    assert "1 skipped for an empty ts (rows 4)" in res.out and "1 skipped for an empty score (rows 2)" in res.out
    assert rows(ws, "SELECT feedback_id FROM feedback ORDER BY 1")["feedback_id"].tolist() == ["a", "c"]


def _init(ws: Path) -> Path:
    cxlens.open(ws).close()
    return ws


def test_timezone_applies_to_zoneless_times_only(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "tz.csv"
    f.write_text("feedback_id,ts,metric,score\nz1,2024-07-01 12:00,nps,9\nz2,2024-07-01T12:00:00+00:00,nps,9\n")
    assert cli(ws, "import", "feedback", f, "--timezone", "Europe/Paris").code == 0
    got = rows(ws, "SELECT ts FROM feedback ORDER BY feedback_id")["ts"].tolist()
    assert got == [pd.Timestamp("2024-07-01 10:00"), pd.Timestamp("2024-07-01 12:00")]


def test_json_response_object_and_excel_sheet(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "resp.json"
    f.write_text(
        json.dumps({"tickets": [{"id": 1, "created_at": "2024-01-01T00:00:00Z"}], "users": [{"id": 9}], "count": 1})
    )
    err = cli(ws, "import", "tickets", f, "--map", "ticket_id=id").err
    assert "choose one with --records" in err
    assert cli(ws, "import", "tickets", f, "--records", "tickets", "--map", "ticket_id=id").code == 0
    x = tmp_path / "book.xlsx"
    with pd.ExcelWriter(x) as w:
        pd.DataFrame({"a": [1]}).to_excel(w, sheet_name="Notes", index=False)
        pd.DataFrame({"review_id": ["x1", "x2"], "ts": [pd.Timestamp("2024-02-01 08:30"), pd.Timestamp("2024-02-02")],
                      "rating": [4, 5], "body": ["good", "great"]}).to_excel(w, sheet_name="Reviews", index=False)  # fmt: skip
    assert (
        "has no sheet 'Nope'; its sheets are 'Notes', 'Reviews'"
        in cli(ws, "import", "reviews", x, "--sheet", "Nope").err
    )
    assert cli(ws, "import", "reviews", x, "--sheet", "Reviews").code == 0
    got = rows(ws, "SELECT review_id, ts, rating FROM reviews ORDER BY 1")
    assert got.values.tolist() == [
        ["x1", pd.Timestamp("2024-02-01 08:30"), 4.0],
        ["x2", pd.Timestamp("2024-02-02"), 5.0],
    ]


# -- dry run --------------------------------------------------------------------------------------------
def test_dry_run_shows_mapping_preview_and_every_problem_and_writes_nothing(wsfile, tmp_path):
    f = tmp_path / "dry.csv"
    f.write_text(
        "id,ts,metric,score,store\nd1,2024-01-01,nps,9,Lyon\nd2,yesterday,nps,11,Paris\nd3,2024-01-03,nps,ten,Nice\n"
    )
    before = digest(wsfile)
    res = cli(wsfile, "import", "feedback", f, "--map", "feedback_id=id", "--dry-run")
    assert res.code == 1
    assert digest(wsfile) == before
    assert "store (as JSON)" in res.out and "d1" in res.out and "dry run: nothing was written" in res.out
    assert "column 'ts' in dry.csv row 2 is 'yesterday'" in res.err
    assert "column 'score' in dry.csv row 3 is 'ten'" in res.err
    good = tmp_path / "ok.csv"
    good.write_text("feedback_id,ts,metric,score\ng1,2024-01-01,nps,9\nn1,2024-01-05,nps,2\n")
    res = cli(wsfile, "import", "feedback", good, "--dry-run")
    assert res.code == 0 and "1 rows would be added" in res.out and "1 already in the workspace" in res.out
    assert digest(wsfile) == before


# -- big files: streamed, one transaction ------------------------------------------------------------------
def _big(path: Path, n: int, bad_last: bool) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "feedback_id": [f"b{i}" for i in range(n)],
        "ts": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 86400, n), unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metric": "nps", "score": rng.integers(0, 11, n), "touchpoint": rng.choice(["checkout", "delivery"], n),
    })  # fmt: skip
    frame.to_csv(path, index=False)
    if bad_last:
        with open(path, "a") as fh:
            fh.write("zz,2024-01-01T00:00:00Z,nps,eleven,checkout\n")
    return frame


def test_failure_on_the_last_row_of_a_big_file_changes_nothing(wsfile, tmp_path):
    f = tmp_path / "big.csv"
    _big(f, 700_000, bad_last=True)
    assert f.stat().st_size > 20 * 2**20  # several 16 MB chunks
    with cxlens.open(wsfile) as w:
        before = (w.counts(), w.sql("SELECT * FROM feedback_rollup ORDER BY ALL"))
    res = cli(wsfile, "import", "feedback", f)
    assert res.code == 1 and "column 'score' in big.csv row 700001 is 'eleven'" in res.err
    with cxlens.open(wsfile) as w:
        assert w.counts() == before[0]
        pd.testing.assert_frame_equal(w.sql("SELECT * FROM feedback_rollup ORDER BY ALL"), before[1])


def test_big_file_import_matches_pandas_and_keeps_the_rollup_exact(tmp_path):
    ws = tmp_path / "w.duckdb"
    f = tmp_path / "big.csv"
    frame = _big(f, 700_000, bad_last=False)
    res = cli(ws, "import", "feedback", f)
    assert res.code == 0, res.err
    with cxlens.open(ws) as w:
        got = w.metrics.nps(by="touchpoint").set_index("touchpoint")["nps"]
        scan = w.sql("SELECT touchpoint, count(*) AS n FROM feedback GROUP BY 1").set_index("touchpoint")["n"]
        roll = w.sql("SELECT touchpoint, sum(n) AS n FROM feedback_rollup GROUP BY 1").set_index("touchpoint")["n"]
    expected = frame.groupby("touchpoint")["score"].apply(lambda s: 100 * ((s >= 9).mean() - (s <= 6).mean()))
    for tp, v in expected.items():
        assert abs(got[tp] - v) < 1e-9
    assert (
        scan.sort_index().tolist()
        == roll.sort_index().astype(int).tolist()
        == frame.groupby("touchpoint").size().tolist()
    )
    assert "0 rows added" in cli(ws, "import", "feedback", f).out


def test_cli_subprocess_reports_errors_on_stderr(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text('{"ts": 1709287200, "metric": "nps", "score": 9}\n')
    res = subprocess.run([sys.executable, "-m", "cxlens", "--workspace", str(tmp_path / "w.duckdb"), "import", "feedback", str(f)],
                         capture_output=True, text=True, timeout=120, env={**os.environ})  # fmt: skip
    assert res.returncode == 1 and "--epoch s" in res.stderr


# -- the dataset adapters run through the same registry ----------------------------------------------------
@pytest.mark.realdata
def test_adapters_import_through_the_cli_with_a_report(real_data, tmp_path):
    ws = tmp_path / "w.duckdb"
    f = real_data / "cdnow" / "CDNOW_master.txt"
    res = cli(ws, "import", "cdnow", f)
    assert res.code == 0, res.err
    lines = sum(1 for line in f.read_text().splitlines()[1:] if line.strip())  # after its header line
    assert f"orders: {lines:,} rows added from CDNOW_master.txt" in res.out
    again = cli(ws, "import", "cdnow", f, "--dry-run")
    assert again.code == 0 and "orders: 0 rows would be added" in again.out
    clothing = real_data / "womens-clothing-reviews-head" / "womens_clothing_ecommerce_reviews_first1000.csv"
    res = cli(ws, "import", "clothing-reviews", clothing)
    assert res.code == 0 and "reviews: 1,000 rows added" in res.out, res.err


def test_import_while_a_server_holds_the_workspace(tmp_path):
    """The CLI in another process sends the streamed, all-or-nothing import to the sharing process."""
    path = tmp_path / "shared.duckdb"
    ws = cxlens.open(path)
    ws.share()
    try:
        f = tmp_path / "fb.csv"
        f.write_text("feedback_id,ts,metric,score\ns1,01/05/2024,nps,9\ns2,13/05/2024,nps,2\n")
        run = [sys.executable, "-m", "cxlens", "--workspace", str(path), "import", "feedback", str(f)]
        res = subprocess.run(run, capture_output=True, text=True, timeout=120, env={**os.environ})
        assert res.returncode == 0, res.stderr
        assert ws.sql("SELECT feedback_id, ts FROM feedback ORDER BY 1").values.tolist() == [
            ["s1", pd.Timestamp("2024-05-01")], ["s2", pd.Timestamp("2024-05-13")]]  # fmt: skip
        bad = tmp_path / "bad.csv"
        bad.write_text("feedback_id,ts,metric,score\ns3,2024-05-01,nps,9\ns4,2024-05-02,nps,99\n")
        res = subprocess.run([*run[:-1], str(bad)], capture_output=True, text=True, timeout=120, env={**os.environ})
        assert res.returncode == 1 and "row 2 is '99'" in res.stderr
        assert ws.counts()["feedback"] == 2 and ws.scalar("SELECT sum(n) FROM feedback_rollup") == 2
    finally:
        ws.close()
