"""Demo engagement data with a planted link to customer outcomes, to check the analysis against the truth.

Each team has a latent engagement ``z`` ~ N(0, 1). An employee's eNPS answer is ``round(7 + 2z + 1.5ε)``
clipped to 0-10 and the driver items ``round(3 + 0.8z + 0.8ε)`` clipped to 1-5; a ticket of the team is
followed by a CSAT answer (1-5) that is satisfied (4-5) with probability ``sigmoid(0.3 + link·z)``. The
truth (``demo_truth`` key ``engagement``) holds each team's ``z``, expected eNPS and satisfied share,
and the correlation of the two expectations across teams.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from cxlens.engagement.people import DRIVERS, import_employees, import_pulse

__all__ = ["demo_engagement"]

FIRST = ("Ana", "Ben", "Chloé", "Dev", "Eva", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kira", "Luca")
LAST = ("Okafor", "Silva", "Novak", "Tanaka", "Moreau", "Kowalski", "Haddad", "Lindqvist", "Reyes", "Byrne")


def _expected_enps(z: float, rng: np.random.Generator, draws: int = 20_000) -> float:
    s = np.clip(np.round(7 + 2 * z + 1.5 * rng.normal(size=draws)), 0, 10)
    return float(100 * ((s >= 9).mean() - (s <= 6).mean()))


def demo_engagement(store: Any, *, teams: int = 12, seed: int = 0, link: float = 1.0,
                    tickets_per_team: int = 80) -> dict[str, Any]:  # fmt: skip
    """Write employees, pulse answers, customers, tickets and CSAT answers; return the truth."""
    from cxlens.ingest.load import load

    rng = np.random.default_rng(seed)
    names = [f"team-{i:02d}" for i in range(teams)]
    z = dict(zip(names, rng.normal(size=teams), strict=True))
    emp, pulse, customers, tickets, fb = [], [], [], [], []
    t0 = pd.Timestamp("2026-01-05")
    for team in names:
        for i in range(int(rng.integers(5, 13))):
            eid = f"{team}-e{i}"
            emp.append({"employee_id": eid, "name": f"{FIRST[int(rng.integers(0, len(FIRST)))]} {LAST[int(rng.integers(0, len(LAST)))]}",
                        "team": team, "role": "agent" if i else "lead",
                        "location": "remote" if rng.random() < 0.3 else "office", "manager_id": f"{team}-e0"})  # fmt: skip
            ts = t0 + pd.Timedelta(days=int(rng.integers(0, 28)))
            e = int(np.clip(round(7 + 2 * z[team] + 1.5 * rng.normal()), 0, 10))
            pulse.append({"employee_id": eid, "ts": ts, "question": "enps", "score": e})
            if rng.random() < 0.25:  # a comment naming a colleague: stored with the name redacted
                pulse.append({"employee_id": eid, "ts": ts, "question": "comment", "score": None,
                              "comment": "{NAME} " + ("helps a lot" if e >= 9 else "is swamped, we need more people")})  # fmt: skip
            for q in DRIVERS:
                s = int(np.clip(round(3 + 0.8 * z[team] + 0.8 * rng.normal()), 1, 5))
                pulse.append({"employee_id": eid, "ts": ts, "question": q, "score": s})
        p = 1 / (1 + math.exp(-(0.3 + link * z[team])))
        agents = [e["employee_id"] for e in emp if e["team"] == team and e["role"] == "agent"]
        for k in range(tickets_per_team):
            cid = f"{team}-c{k}"
            at = t0 + pd.Timedelta(hours=int(rng.integers(0, 24 * 60)))
            customers.append({"customer_id": cid})
            first = at + pd.Timedelta(minutes=int(rng.exponential(240)) + 5)
            contacts = int(1 + rng.poisson(0.4))
            tickets.append({"ticket_id": f"{team}-t{k}", "customer_id": cid, "created_at": at, "team": team,
                            "agent": agents[int(rng.integers(0, len(agents)))], "first_response_at": first,
                            "resolved_at": first + pd.Timedelta(hours=float(rng.exponential(12 * contacts))),
                            "contacts": contacts})  # fmt: skip
            score = int(rng.integers(4, 6)) if rng.random() < p else int(rng.integers(1, 4))
            fb.append({"feedback_id": f"{team}-f{k}", "customer_id": cid, "ts": at + pd.Timedelta(days=1),
                       "metric": "csat", "score": score})  # fmt: skip
    for r in pulse:  # a comment names a colleague (any team): stored with the name redacted
        if r["question"] == "comment":
            r["comment"] = r["comment"].replace("{NAME}", emp[int(rng.integers(0, len(emp)))]["name"])
    import_employees(store, pd.DataFrame(emp))
    import_pulse(store, pd.DataFrame(pulse))
    load(store, "customers", pd.DataFrame(customers))
    load(store, "tickets", pd.DataFrame(tickets))
    load(store, "feedback", pd.DataFrame(fb))
    exp_enps = {t: _expected_enps(z[t], rng) for t in names}
    exp_csat = {t: 100 / (1 + math.exp(-(0.3 + link * z[t]))) for t in names}
    r = float(np.corrcoef([exp_enps[t] for t in names], [exp_csat[t] for t in names])[0, 1])
    truth = {"z": z, "expected_enps": exp_enps, "expected_csat": exp_csat, "correlation": r, "link": link}
    with store.transaction(changes=["demo_truth"]) as cur:
        cur.execute("DELETE FROM demo_truth WHERE key = 'engagement'")
        cur.execute("INSERT INTO demo_truth VALUES ('engagement', ?)", [json.dumps(truth)])
    return truth
