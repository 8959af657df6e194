"""Big-file imports: the same answers whatever the chunk size (rows repeated, conflicting or derived
across chunks; a first import and one into a table that already holds rows), the rollup equal to a
recount, and DuckDB's memory cap (restored after; a cap too small for the file retried without it)."""

from __future__ import annotations

import pandas as pd
import pytest

from cxlens.errors import SchemaError
from cxlens.ingest import load as load_mod
from cxlens.ingest.files import ReadOptions

ROWS = [
    ("a1", "2024-01-01T10:00:00Z", "nps", 9, "great"),
    ("a2", "2024-01-02T10:00:00Z", "nps", 3, ""),
    ("a1", "2024-01-01T10:00:00Z", "nps", 9, "great"),  # repeated in another chunk: kept once
    ("a3", "2024-01-03T10:00:00Z", "csat", 4, ""),
    ("a2", "2024-01-02T10:00:00Z", "nps", 3, ""),  # repeated again
    ("a4", "2024-01-04T10:00:00Z", "ces", 6, "slow"),
    ("a5", "2024-01-05T10:00:00Z", "nps", 10, ""),
]


def _csv(path, rows, with_id=True):
    cols = ["feedback_id", "ts", "metric", "score", "comment"]
    frame = pd.DataFrame(rows, columns=cols)
    if not with_id:
        frame = frame.drop(columns="feedback_id")
    frame.to_csv(path, index=False)
    return frame


def _stored(ws):
    return ws.sql("SELECT feedback_id, metric, score, comment FROM feedback ORDER BY feedback_id")


def _rollup_matches_a_recount(ws):
    got = ws.sql("SELECT metric, day, score, sum(n) AS n FROM feedback_rollup GROUP BY ALL ORDER BY ALL")
    want = ws.sql(
        "SELECT metric, CAST(ts AS DATE) AS day, score, count(*) AS n FROM feedback GROUP BY ALL ORDER BY ALL"
    )
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 100])
def test_repeats_across_chunks_are_kept_once_in_a_first_import(ws, tmp_path, chunk_rows):
    f = tmp_path / "fb.csv"
    frame = _csv(f, ROWS)
    r = ws.load("feedback", f, read=ReadOptions(chunk_rows=chunk_rows))
    want = frame.drop_duplicates("feedback_id")  # independent oracle: first row of each id
    assert (r.rows, r.inserted, r.repeated, r.present) == (7, len(want), 7 - len(want), 0)
    assert _stored(ws)["feedback_id"].tolist() == sorted(want["feedback_id"])
    assert r.preview is not None and r.preview["feedback_id"].tolist()[:3] == ["a1", "a2", "a1"]
    _rollup_matches_a_recount(ws)
    again = ws.load("feedback", f, read=ReadOptions(chunk_rows=chunk_rows))
    assert (again.inserted, again.present, again.repeated) == (0, len(want), 7 - len(want))
    assert len(_stored(ws)) == len(want)
    _rollup_matches_a_recount(ws)


@pytest.mark.parametrize("chunk_rows", [1, 3])
def test_import_into_a_table_holding_rows_adds_only_new_ids(ws, tmp_path, chunk_rows):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    _csv(first, ROWS[:2])
    ws.load("feedback", first)
    _csv(second, ROWS)
    r = ws.load("feedback", second, read=ReadOptions(chunk_rows=chunk_rows))
    assert (r.inserted, r.present, r.repeated) == (3, 2, 2)
    assert _stored(ws)["feedback_id"].tolist() == ["a1", "a2", "a3", "a4", "a5"]
    _rollup_matches_a_recount(ws)


@pytest.mark.parametrize("empty", [True, False])
def test_a_conflict_across_chunks_names_both_rows_and_writes_nothing(ws, tmp_path, empty):
    if not empty:
        _csv(tmp_path / "z.csv", [("z9", "2024-02-01T10:00:00Z", "nps", 5, "")])
        ws.load("feedback", tmp_path / "z.csv")
    before = _stored(ws)
    rows = [*ROWS, ("a3", "2024-01-03T10:00:00Z", "csat", 2, "")]  # a3 again, another score
    f = tmp_path / "fb.csv"
    _csv(f, rows)
    with pytest.raises(SchemaError, match=r"fb.csv rows 4 and 8 share feedback id 'a3' but differ"):
        ws.load("feedback", f, read=ReadOptions(chunk_rows=2))
    pd.testing.assert_frame_equal(_stored(ws), before)


def test_identical_rows_without_ids_stay_distinct_across_chunks(ws, tmp_path):
    f = tmp_path / "fb.csv"
    rows = [("x", "2024-01-01T10:00:00Z", "nps", 10, "")] * 7 + [("x", "2024-01-01T11:00:00Z", "nps", 0, "")]
    _csv(f, rows, with_id=False)
    r = ws.load("feedback", f, read=ReadOptions(chunk_rows=3))
    assert r.inserted == 8
    stored = ws.sql("SELECT score FROM feedback")
    assert sorted(stored["score"]) == [0] + [10] * 7
    assert ws.load("feedback", f, read=ReadOptions(chunk_rows=2)).inserted == 0


def test_memory_cap_is_restored_and_a_too_small_one_is_retried(ws, tmp_path, monkeypatch):
    before = ws.store.scalar("SELECT current_setting('memory_limit')")
    n = 60_000
    frame = pd.DataFrame(
        {
            "feedback_id": [f"r{i}" for i in range(n)],
            "ts": pd.date_range("2024-01-01", periods=n, freq="min").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "metric": "nps",
            "score": [i % 11 for i in range(n)],
            "comment": [f"comment number {i} with some words" for i in range(n)],
        }
    )
    f = tmp_path / "big.csv"
    frame.to_csv(f, index=False)
    monkeypatch.setattr(load_mod, "IMPORT_MEMORY", "1MB")  # far too small: DuckDB runs out, then no cap
    r = ws.load("feedback", f, read=ReadOptions(chunk_rows=20_000))
    assert r.inserted == n
    assert ws.store.scalar("SELECT count(*) FROM feedback") == n
    after = ws.store.scalar("SELECT current_setting('memory_limit')")
    assert load_mod._bytes(after) == pytest.approx(load_mod._bytes(before), rel=0.01)  # shown rounded
    _rollup_matches_a_recount(ws)


def test_a_served_workspace_keeps_its_memory_limit_during_an_import(tmp_path, monkeypatch):
    """The cap is the whole database's: in ``cxlens serve`` it would hold dashboard queries to it too."""
    import cxlens
    from cxlens.store import share

    ws = cxlens.open(tmp_path / "served.duckdb")
    try:
        share(ws.store)
        before = ws.store.scalar("SELECT current_setting('memory_limit')")
        seen: list[str] = []
        side = ws.store.new_cursor()  # the import's own cursor is busy in its transaction and append thread
        monkeypatch.setattr(load_mod, "_release_memory",
                            lambda: seen.append(side.execute("SELECT current_setting('memory_limit')").fetchone()[0]))  # fmt: skip
        f = tmp_path / "f.csv"
        _csv(f, ROWS)
        assert ws.load("feedback", f, read=ReadOptions(chunk_rows=2)).inserted == 5
        assert seen and set(seen) == {before}
        side.close()
        # the same import into a workspace nobody else uses runs capped
        solo = cxlens.open(tmp_path / "solo.duckdb")
        seen.clear()
        side2 = solo.store.new_cursor()
        monkeypatch.setattr(load_mod, "_release_memory",
                            lambda: seen.append(side2.execute("SELECT current_setting('memory_limit')").fetchone()[0]))  # fmt: skip
        solo.load("feedback", f, read=ReadOptions(chunk_rows=2))
        side2.close()
        solo.close()
        assert seen and all(load_mod._bytes(s) <= load_mod._bytes(load_mod.IMPORT_MEMORY) * 1.1 for s in seen)
    finally:
        ws.close()


def test_chunks_are_appended_on_one_duckdb_thread_and_settled_on_all(tmp_path, monkeypatch):
    """Appending on several DuckDB threads cost twice the CPU; the queries that settle the import
    (repeats, the rollup) run on every thread again, and the setting is restored afterwards."""
    import cxlens

    solo = cxlens.open(tmp_path / "solo.duckdb")
    try:
        solo.store.execute("SET GLOBAL threads = 2")  # what a 2-core machine has; the test must not depend on it
        side = solo.store.new_cursor()
        threads = lambda: int(side.execute("SELECT current_setting('threads')").fetchone()[0])  # noqa: E731
        appending: list[int] = []
        settling: list[int] = []
        monkeypatch.setattr(load_mod, "_release_memory", lambda: appending.append(threads()))
        end = load_mod._Writer.end
        monkeypatch.setattr(load_mod._Writer, "end", lambda self, cur: (settling.append(threads()), end(self, cur)))
        f = tmp_path / "f.csv"
        _csv(f, ROWS)
        assert solo.load("feedback", f, read=ReadOptions(chunk_rows=2)).inserted == 5
        assert appending and set(appending) == {load_mod.IMPORT_THREADS} == {1}
        assert settling == [2]
        assert threads() == 2
        side.close()
    finally:
        solo.close()
