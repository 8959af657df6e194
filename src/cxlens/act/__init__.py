"""Act: rules that route customer signals to Slack, Teams, webhooks, e-mail and the support tool, and
the follow-up case queue (docs/act.md).

* :mod:`cxlens.act.rules` — the YAML rule format, checked, stored versioned;
* :mod:`cxlens.act.trigger` — rules fire in the transaction that commits the feedback (the outbox);
* :mod:`cxlens.act.signals` — customer rules: a churn-risk or CLV threshold crossed at a scoring;
* :mod:`cxlens.act.route` — ticket and verbatim rules on their classification, frustration signals,
  emerging themes (:mod:`cxlens.act.classify` checks their options); :mod:`cxlens.act.resurvey` — the
  ``survey`` action and the re-survey answer on the case;
* :mod:`cxlens.act.deliver` — the ``act.deliver`` job and the delivery pump: channels, retries, dead letters;
* :mod:`cxlens.act.messages` — what each channel receives; :mod:`cxlens.act.net` — allowed hosts, SSRF;
* :mod:`cxlens.act.cases` — cases, their audit trail, teams;
* :mod:`cxlens.act.share` — shared report links (signed, expiring, revocable); :mod:`cxlens.act.charts` — digest PNGs.

``ws.act`` (:class:`Act`) is the facade.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from cxlens.act import cases as _cases
from cxlens.act import deliver as _deliver
from cxlens.act import net, resurvey, route, rules, schedule, signals
from cxlens.act import share as _share
from cxlens.act.messages import WEBHOOK_SCHEMA
from cxlens.act.rules import Rule, parse_rules
from cxlens.act.trigger import feedback_where, fire, on_feedback
from cxlens.errors import ConfigError

__all__ = ["WEBHOOK_SCHEMA", "Act", "Rule", "on_feedback", "parse_rules", "schedule"]


class Act:
    """``ws.act``: rules, destinations, deliveries and cases of one workspace."""

    def __init__(self, store: Any):
        self.store = store

    # -- rules ----------------------------------------------------------------------------
    def load_rules(self, source: str | Path | dict[str, Any] | list[Any], *, who: str | None = None) -> pd.DataFrame:
        """Check and store the rules of a YAML file (or text, or parsed data); one row per rule saying
        whether it was created, updated or unchanged."""
        return pd.DataFrame(rules.save_rules(self.store, parse_rules(source), who=who))

    def rules(self) -> pd.DataFrame:
        return rules.list_rules(self.store)

    def rule(self, name: str) -> Rule:
        return rules.get_rule(self.store, name)

    def history(self, name: str, *, diff: bool = False) -> pd.DataFrame:
        """Every version of rule ``name`` (who, when, what change); ``diff``: with a ``diff`` column, the
        unified diff of each version's YAML against the one before."""
        df = rules.rule_history(self.store, name)
        return rules.with_diffs(df) if diff else df

    def activity(self, *, now: dt.datetime | None = None) -> pd.DataFrame:
        """Per rule: alerts in all, in the last 24 h, when it last fired, its open cases and its dead or
        refused deliveries."""
        return rules.rule_activity(self.store, now=now)

    def pause(self, name: str, *, who: str | None = None) -> Rule:
        return rules.set_status(self.store, name, "paused", who=who)

    def resume(self, name: str, *, who: str | None = None) -> Rule:
        return rules.set_status(self.store, name, "active", who=who)

    def delete(self, name: str, *, who: str | None = None) -> None:
        rules.delete_rule(self.store, name, who=who)

    def test(self, name: str, answer: dict[str, Any] | None = None, *, limit: int = 20) -> pd.DataFrame:
        """Which answers rule ``name`` fires on, without sending anything: the given ``answer``
        (``{"metric": "nps", "score": 3, …}``) or the latest ``limit`` stored answers it matches."""
        r = self.rule(name)
        if r.trigger in ("schedule", "metric"):  # a preview of what it would send now
            if answer is not None:
                raise ConfigError(f"rule {name!r} is a {r.trigger} rule; it is tested without an answer")
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            if r.trigger == "metric":
                move = schedule.metric_move(self.store, r.conditions, now)
                if move is None:
                    return pd.DataFrame(columns=["metric", "value", "n", "fires"])
                return pd.DataFrame(move["metrics"]).assign(period_from=move["from"], period_until=move["until"],
                                                            fires=move["fires"])  # fmt: skip
            content = schedule.digest_content(self.store, r.conditions, now)
            return pd.DataFrame(content["metrics"]).assign(period_from=content["from"], period_until=content["until"])
        if r.trigger in ("ticket", "verbatim", "frustration", "theme"):
            return self._test_route(r, answer, limit)
        if r.trigger == "customer":  # who is inside the band now (a crossing into it fires)
            if answer is not None:
                bad = set(answer) - {"churn_risk", "clv", "customer_id"}
                if bad:
                    raise ConfigError(f"answer has unknown field {sorted(bad)[0]!r}; a customer rule is tested with "
                                      '{"churn_risk": 0.8, "clv": 1200}')  # fmt: skip
                frame = pd.DataFrame([{"customer_id": answer.get("customer_id"), "clv": answer.get("clv"),
                                       "churn_risk": answer.get("churn_risk")}]).astype(
                    {"clv": float, "churn_risk": float})  # fmt: skip
                where, params = signals.band_where(r.conditions)
                hit = self.store.read(f"SELECT count(*) AS n FROM _cx_c WHERE {where}", params, tables={"_cx_c": frame})
                return frame.assign(fires=bool(hit["n"].iloc[0]))
            return signals.customers_in_band(self.store, r, limit).assign(fires=True)
        where, params = feedback_where(r.conditions)
        cols = "feedback_id, customer_id, ts, metric, score, comment, touchpoint, survey_id"
        if answer is not None:
            if "score" not in answer or "metric" not in answer:
                raise ConfigError('answer needs at least \'metric\' and \'score\', e.g. {"metric": "nps", "score": 3}')
            row = {"feedback_id": "test", "customer_id": None, "ts": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                   "comment": None, "touchpoint": None, "survey_id": None, "channel": None, "stage": None, **answer}  # fmt: skip
            frame = pd.DataFrame([row])
            frame["score"] = frame["score"].astype(float)
            got = self.store.read(f"SELECT {cols} FROM _cx_answer WHERE {where}", params, tables={"_cx_answer": frame})
            return got.assign(fires=True) if len(got) else frame[cols.split(", ")].assign(fires=False)
        return self.store.read(f"SELECT {cols} FROM feedback WHERE {where} ORDER BY ts DESC LIMIT ?",
                               [*params, int(limit)]).assign(fires=True)  # fmt: skip

    def _test_route(self, r: Rule, answer: dict[str, Any] | None, limit: int) -> pd.DataFrame:
        """``rules test`` of a routing rule: a made-up ticket/verbatim/signal, or what it matches now."""
        from cxlens.act.classify import route_matcher

        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if r.trigger == "theme":
            if answer is not None:
                raise ConfigError(f"rule {r.name!r} is a theme rule; it is tested without an answer")
            return route.emerging(self.store, r.conditions, now)
        if r.trigger == "frustration":
            if answer is not None:
                bad = set(answer) - {"name", "signal", "url", "selector", "customer_id"}
                if bad:
                    raise ConfigError(f"answer has unknown field {sorted(bad)[0]!r}; a frustration rule is tested "
                                      'with {"signal": "rageclick", "url": "https://shop/checkout", "selector": "#pay"}')  # fmt: skip
                sig = str(answer.get("signal") or str(answer.get("name", "")).lstrip("$"))
                e = {"name": "$" + sig, "url": answer.get("url"), "selector": answer.get("selector")}
                return pd.DataFrame([{**e, "fires": route.signal_hit(r.conditions, e) and r.conditions["min_count"] <= 1,
                                      "min_count": r.conditions["min_count"]}])  # fmt: skip
            names = [route.FRUSTRATION_SIGNALS[s] for s in r.conditions["signal"]]
            df = self.store.read(
                "SELECT event_id, customer_id, ts, name, url, json_extract_string(CASE WHEN json_valid(properties) "
                "THEN properties END, '$.\"$selector\"') AS selector FROM events WHERE list_contains(?::VARCHAR[], name) "
                "ORDER BY ts DESC LIMIT 5000", [names])  # fmt: skip
            keep = [route.signal_hit(r.conditions, e) for e in df.to_dict("records")]
            return df[keep].head(int(limit)).reset_index(drop=True).assign(fires=True)
        test = route_matcher(r.conditions)
        if answer is not None:
            if not isinstance(answer.get("text"), str) or not answer["text"].strip():
                raise ConfigError(
                    'answer needs a \'text\', e.g. {"text": "I need my refund today", "source": "ticket"}'
                )
            item = {"verbatim_id": "test", "customer_id": answer.get("customer_id"), "ts": now,
                    "source": str(answer.get("source") or ("ticket" if r.trigger == "ticket" else "feedback:nps")),
                    "text": answer["text"], "channel": answer.get("channel"), "touchpoint": answer.get("touchpoint"),
                    "team": answer.get("team"), "score": None}  # fmt: skip
            with self.store.transaction() as cur:
                c = route.classify_items(self.store, cur, [item])[0]
            fires = test(c) and (r.trigger == "verbatim" or c["source"] == "ticket")
            return pd.DataFrame([{k: c.get(k) for k in ("source", "sentiment", "sentiment_score", "theme", "themes",
                                                        "emotions", "effort", "urgency", "analyser")} | {"fires": fires}])  # fmt: skip
        df = self.store.read("SELECT verbatim_id, customer_id, source, ts, sentiment, sentiment_score, theme, themes, "
                             "emotions, effort, urgency FROM act_classifications ORDER BY ts DESC LIMIT 5000")  # fmt: skip
        rows = df.to_dict("records")
        for row in rows:
            row["themes"], row["emotions"] = json.loads(row["themes"] or "[]"), json.loads(row["emotions"] or "[]")
        keep = [test(c) and (r.trigger == "verbatim" or c["source"] == "ticket") for c in rows]
        return pd.DataFrame([c for c, k in zip(rows, keep, strict=True) if k][: int(limit)],
                            columns=list(df.columns)).assign(fires=True)  # fmt: skip

    def recovery(self, *, by: str | None = None) -> pd.DataFrame:
        """The recovery rate of re-surveyed cases with n and CIs (``by``: ``team`` or ``owner``)."""
        return resurvey.recovery(self.store, by=by)

    def send_test(self, name: str) -> pd.DataFrame:
        """Send a test alert (no customer, trigger ``test``) to every message destination of rule ``name``
        — the "send test" button; returns its deliveries (watch them with :meth:`deliveries`)."""
        r = self.rule(name)
        actions = tuple(a for a in r.actions if next(iter(a)) not in ("case", "survey"))  # no customer to survey
        if not actions:
            raise ConfigError(f"rule {name!r} has no message action to test (only cases)")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        row = {"customer_id": None, "feedback_id": None, "metric": "nps", "score": 0.0, "touchpoint": None,
               "survey_id": None, "ts": now, "comment": "This is a test alert sent from cxlens."}  # fmt: skip
        with self.store.transaction(changes=["act_alerts", "act_deliveries", "jobs"]) as cur:
            alert_id = fire(self.store, cur, dataclasses.replace(r, actions=actions), row, now, trigger="test")
        return self.store.read("SELECT delivery_id, channel, job_id FROM act_deliveries WHERE alert_id = ? "
                               "ORDER BY delivery_id", [alert_id])  # fmt: skip

    # -- destinations -----------------------------------------------------------------------
    def allow_host(self, host: str, *, private: bool = False, who: str | None = None) -> str:
        return net.allow_host(self.store, host, private=private, who=who)

    def forbid_host(self, host: str) -> None:
        net.forbid_host(self.store, host)

    def hosts(self) -> pd.DataFrame:
        return self.store.read("SELECT host, allow_private, added_by, added_at FROM act_hosts ORDER BY host")

    # -- alerts and deliveries ------------------------------------------------------------------
    def alerts(self, *, rule: str | None = None, limit: int = 200) -> pd.DataFrame:
        where = "WHERE rule = ?" if rule else ""
        return self.store.read(
            f"SELECT alert_id, rule, rule_version, customer_id, feedback_id, trigger, metric, score, created_at "
            f"FROM act_alerts {where} ORDER BY created_at DESC, alert_id LIMIT ?",
            [*([rule] if rule else []), int(limit)],
        )

    def deliveries(self, *, status: str | None = None, rule: str | None = None, limit: int = 200) -> pd.DataFrame:
        return _deliver.deliveries(self.store, status=status, rule=rule, limit=limit)

    def dead_letters(self, limit: int = 200) -> pd.DataFrame:
        return _deliver.dead_letters(self.store, limit)

    def retry(self, delivery_id: str) -> dict[str, Any]:
        return _deliver.retry_delivery(self.store, delivery_id)

    # -- cases --------------------------------------------------------------------------------
    def cases(self, *, status: str | Sequence[str] | None = None, team: str | None = None,
              owner: str | None = None, customer_id: str | None = None, teams: Sequence[str] | None = None,
              priority: str | None = None, limit: int = 1000) -> pd.DataFrame:  # fmt: skip
        """Cases, newest first (``teams``: only those teams' cases, an agent's queue)."""
        return _cases.list_cases(self.store, status=status, team=team, owner=owner, customer_id=customer_id,
                                 teams=teams, priority=priority, limit=limit)  # fmt: skip

    def teams(self) -> list[str]:
        """Every team named by a member or a case."""
        return [r[0] for r in self.store.rows("SELECT team FROM act_team_members UNION SELECT team FROM act_cases "
                                              "WHERE team IS NOT NULL ORDER BY 1")]  # fmt: skip

    def case(self, case_id: str, *, teams: Sequence[str] | None = None) -> dict[str, Any]:
        out = _cases.get_case(self.store, case_id, teams=teams)
        out["events"] = _cases.case_events(self.store, case_id).to_dict("records")
        out["resurvey"] = resurvey.resurvey_of_case(self.store, case_id)
        return out

    def open_case(self, customer_id: str | None, *, team: str | None = None, priority: str = "normal",
                  owner: str | None = None, note: str | None = None, actor: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Open a case by hand (from the customer 360 or a feedback row)."""
        case_id = _cases.create_case(self.store, customer_id=customer_id, team=team, priority=priority, owner=owner,
                                     note=note, actor=actor)  # fmt: skip
        return self.case(case_id)

    def update_case(self, case_id: str, *, teams: Sequence[str] | None = None, **changes: Any) -> dict[str, Any]:
        """Change status, owner, team, priority or outcome, or add a ``note`` (each recorded in the audit trail)."""
        _cases.update_case(self.store, case_id, teams=teams, **changes)
        return self.case(case_id)

    def add_member(self, team: str, email: str) -> None:
        _cases.add_member(self.store, team, email)

    def remove_member(self, team: str, email: str) -> None:
        _cases.remove_member(self.store, team, email)

    def teams_of(self, email: str | None) -> list[str]:
        return _cases.teams_of(self.store, email)

    # -- shared report links ------------------------------------------------------------------
    def share(self, view: str, *, role: str = "admin", expires: Any = _share.DEFAULT_EXPIRY,
              created_by: str | None = None, start: str | None = None, end: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A signed, expiring, read-only link to ``view`` (``overview``, ``journey``, ``themes``,
        ``digest:RULE``) showing what ``role`` may see; its ``token`` is returned this once."""
        params = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        return _share.create_link(self.store, view, role=role, created_by=created_by, expires=expires, params=params)

    def shares(self, *, active: bool = False) -> pd.DataFrame:
        """Every shared link (never its token), with its ``status``; ``active``: only the live ones."""
        return _share.list_links(self.store, include_inactive=not active)

    def revoke_share(self, link_id: str, *, who: str | None = None) -> dict[str, Any]:
        return _share.revoke_link(self.store, link_id, who=who)
