"""Rules through the CLI: the issue's example file loads as is, versions record who and when, pause,
resume, delete, test; bad rules are refused with an error naming the field."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import cxlens
from cxlens.act import parse_rules
from cxlens.cli import app
from cxlens.errors import ConfigError

from .conftest import RULES_EXAMPLE, answer


@pytest.fixture()
def cli(tmp_path):
    path = tmp_path / "w.duckdb"

    def run(*args, ok=True):
        r = CliRunner().invoke(app, ["--workspace", str(path), *args], catch_exceptions=not ok)
        if ok:
            assert r.exit_code == 0, r.output
        else:  # `cxlens` (cli.main) prints a cxlens error as one line and exits 1
            assert r.exit_code == 1 and r.exception is not None
            r.message = str(r.exception)
        return r

    run.path = path
    return run


def test_the_issue_example_loads_and_rules_are_versioned(cli, tmp_path):
    f = tmp_path / "rules.yaml"
    f.write_text(RULES_EXAMPLE)
    r = cli("rules", "load", str(f), ok=False)
    assert "host 'hooks.example.com', which is not allowed" in r.message
    assert "cxlens act allow-host hooks.example.com" in r.message
    cli("act", "allow-host", "hooks.example.com")
    got = json.loads(cli("rules", "load", str(f), "--format", "json").stdout)
    assert got == [{"name": "detractor-alert", "version": 1, "change": "created"}]
    again = json.loads(cli("rules", "load", str(f), "--format", "json").stdout)
    assert again == [{"name": "detractor-alert", "version": 1, "change": "unchanged"}]
    (rule,) = json.loads(cli("rules", "list", "--format", "json").stdout)
    assert rule["status"] == "active" and rule["actions"] == "webhook, case" and rule["window_s"] == 86400
    assert json.loads(rule["conditions"]) == {"metric": ["nps"], "score": {"max": 6.0}}
    cli("rules", "pause", "detractor-alert")
    cli("rules", "resume", "detractor-alert")
    f.write_text(RULES_EXAMPLE.replace("max: 6", "max: 5"))
    assert json.loads(cli("rules", "load", str(f), "--format", "json").stdout)[0]["change"] == "updated"
    hist = json.loads(cli("rules", "show", "detractor-alert", "--history", "--format", "json").stdout)
    assert [(h["version"], h["change"], h["status"]) for h in hist] == [
        (1, "created", "active"), (2, "paused", "paused"), (3, "resumed", "active"), (4, "updated", "active")]  # fmt: skip
    assert all(h["changed_by"].startswith("cli") and h["changed_at"] for h in hist)
    shown = json.loads(cli("rules", "show", "detractor-alert", "--format", "json").stdout)
    assert shown["version"] == 4 and shown["rule"]["when"]["feedback"]["score"] == {"max": 5}
    fires = json.loads(cli("rules", "test", "detractor-alert", "--answer", '{"metric": "nps", "score": 5}',
                           "--format", "json").stdout)  # fmt: skip
    assert fires[0]["fires"] is True
    quiet = json.loads(cli("rules", "test", "detractor-alert", "--answer", '{"metric": "nps", "score": 6}',
                           "--format", "json").stdout)  # fmt: skip
    assert quiet[0]["fires"] is False
    cli("rules", "delete", "detractor-alert")
    assert json.loads(cli("rules", "list", "--format", "json").stdout) == []
    r = cli("rules", "show", "detractor-alert", ok=False)
    assert "no rule 'detractor-alert'" in r.message


def test_paused_rules_do_not_fire_and_resumed_ones_do(tmp_path):
    with cxlens.open(tmp_path / "p.duckdb") as ws:
        ws.act.load_rules({"rules": [{"name": "r", "when": {"feedback": {"score": {"max": 6}}},
                                      "do": [{"case": {"team": "support", "priority": "urgent"}}]}]})  # fmt: skip
        ws.act.pause("r")
        answer(ws, "P1", 1, "x")
        assert ws.act.cases().empty
        ws.act.resume("r")
        answer(ws, "P2", 1, "x")
        answer(ws, "P3", 9, "x")
        c = ws.act.cases()
        assert c["customer_id"].tolist() == ["P2"] and c["priority"].tolist() == ["urgent"]
        assert (c["due_at"] - c["created_at"]).dt.total_seconds().tolist() == [4 * 3600]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("rules: []", "has no rules"),
        ("rules:\n  - {name: Bad Name, when: {feedback: {}}, do: [{case: {}}]}", "name is 'Bad Name'"),
        ("rules:\n  - {name: a, when: {feedback: {scroe: 3}}, do: [{case: {}}]}", "unknown condition 'scroe'"),
        ("rules:\n  - {name: a, when: {feedback: {score: {max: ten}}}, do: [{case: {}}]}", "score.max is 'ten'"),
        ("rules:\n  - {name: a, when: {feedback: {score: {min: 9, max: 2}}}, do: [{case: {}}]}", "min 9.0 above max"),
        ("rules:\n  - {name: a, when: {tweet: {}}, do: [{case: {}}]}", "unknown trigger 'tweet'"),
        ("rules:\n  - {name: a, when: {feedback: {}}, do: []}", "do is []"),
        ("rules:\n  - {name: a, when: {feedback: {}}, do: [{fax: {}}]}", "unknown action 'fax'"),
        ("rules:\n  - {name: a, when: {feedback: {}}, do: [{webhook: {}}]}", "exactly one of 'url' or 'url_env'"),
        ("rules:\n  - {name: a, when: {feedback: {}}, do: [{webhook: {url: 'https://h.example', secret_env: 'A-B'}}]}",
         "secret_env is 'A-B'"),
        ("rules:\n  - {name: a, when: {feedback: {}}, do: [{email: {to: [nobody]}}]}", "email.to is ['nobody']"),
        ("rules:\n  - {name: a, when: {feedback: {}}, do: [{case: {priority: p1}}]}", "case.priority is 'p1'"),
        ("rules:\n  - {name: a, when: {feedback: {}}, window: soon, do: [{case: {}}]}", "window is 'soon'"),
        ("rules:\n  - {name: a, when: {feedback: {}}, do: [{case: {}}]}\n  - {name: a, when: {feedback: {}}, "
         "do: [{case: {}}]}", "defines rule 'a' twice"),
    ],
)  # fmt: skip
def test_bad_rules_name_the_faulty_field(rules, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_rules(rules + "\n")


def test_python_and_sql_rule_tests_agree(tmp_path):
    """Survey answers are tested in Python, big imports in SQL: both must pick the same rows."""
    import random

    import pandas as pd

    from cxlens.act.rules import parse_rule
    from cxlens.act.trigger import feedback_where, matcher, matches

    rnd = random.Random(7)
    rows = pd.DataFrame([{
        "feedback_id": f"f{i}", "metric": rnd.choice(["nps", "NPS", "csat", None]),
        "score": rnd.choice([0.0, 3.0, 6.0, 6.5, 7.0, 10.0]), "touchpoint": rnd.choice(["checkout", "Checkout", None]),
        "survey_id": rnd.choice(["s1", "s2", None]), "channel": rnd.choice(["web", None]), "stage": None,
        "comment": rnd.choice([None, "", "   ", "Refund please", "great", "CANCEL my plan"]),
    } for i in range(300)])  # fmt: skip
    conds = [{"metric": "nps"}, {"score": {"max": 6}}, {"score": {"min": 6.5, "max": 7}}, {"score": 3},
             {"touchpoint": ["checkout"], "survey": "s1"}, {"comment": True}, {"comment": False},
             {"comment": {"contains": ["refund", "cancel"]}}, {"metric": ["csat", "nps"], "channel": "web",
                                                                "comment": {"present": True, "contains": ["great"]}}]  # fmt: skip
    with cxlens.open(tmp_path / "eq.duckdb") as ws:
        for c in conds:
            r = parse_rule({"name": "x", "when": {"feedback": c}, "do": [{"case": {}}]})
            where, params = feedback_where(r.conditions)
            by_sql = set(ws.store.read(f"SELECT feedback_id FROM rows WHERE {where}", params,
                                       tables={"rows": rows})["feedback_id"])  # fmt: skip
            records = rows.astype(object).where(rows.notna(), None).to_dict("records")  # as DuckDB returns them
            by_py = {row["feedback_id"] for row in records if matches(r.conditions, row)}
            test = matcher(r.conditions)  # the prepared test survey answers use
            by_prepared = {row["feedback_id"] for row in records if test(row)}
            assert by_sql == by_py == by_prepared and by_sql, c


def test_quiet_hours_through_the_cli_and_an_unquoted_yaml_time(cli, tmp_path):
    cli("act", "allow-host", "127.0.0.1", "--private")
    f = tmp_path / "quiet.yaml"
    body = ("rules:\n  - name: night\n    when: {feedback: {metric: nps, score: {max: 6}}}\n"
            "    do: [{webhook: {url: 'http://127.0.0.1:9/h', quiet_hours: {from: %s, to: '07:00', tz: Europe/Paris}}}]\n")  # fmt: skip
    f.write_text(body % "22:00")  # YAML 1.1 reads an unquoted 22:00 as the number 1320
    r = cli("rules", "load", str(f), ok=False)
    assert "quiet_hours.from is the number 1320; write the time in quotes" in r.message
    f.write_text(body % "'22:00'")
    assert json.loads(cli("rules", "load", str(f), "--format", "json").stdout)[0]["change"] == "created"
    shown = cli("rules", "show", "night", "--format", "json").stdout
    assert '"quiet_hours"' in shown and '"22:00"' in shown
