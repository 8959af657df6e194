"""``cxlens models fit`` and ``cxlens jobs …``: background work from the command line.

``cxlens serve`` runs the workspace's jobs in the background; these commands run them at once
(``models fit``), run a worker in the foreground (``jobs run``), and inspect or retry the queue.
Beside a running server they work too: the server shares its workspace (docs/store.md).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from cxlens.cli._app import Fmt, app, err, open, out, print_frame
from cxlens.jobs import REGISTRY, JobRunner, list_jobs, retry, run_now
from cxlens.workspace import MODEL_JOBS

models_app = typer.Typer(help="Stored models: fit the CLV, churn and text models now.", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs: list, run a worker, retry dead jobs.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(jobs_app, name="jobs")


@models_app.command("fit")
def models_fit(
    only: Annotated[
        list[str] | None, typer.Option("--only", help=f"Run only these jobs ({', '.join(MODEL_JOBS)}).")
    ] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Fit and store the models pages read: CLV and churn scores, revenue at risk, text analysis and themes."""
    kinds = list(only or MODEL_JOBS)
    rows = []
    with open() as ws:
        for kind in kinds:
            t0 = time.perf_counter()
            with err.status(f"running {kind}…"):
                res = run_now(ws, kind)
            result = res.get("result") or {}
            detail = "; ".join(f"{k} {v}" for k, v in result.items() if k != "seconds")
            rows.append({"job": kind, "status": res["status"], "seconds": round(time.perf_counter() - t0, 2),
                         "result": detail})  # fmt: skip
    import pandas as pd

    print_frame(pd.DataFrame(rows), fmt)


@jobs_app.command("list")
def jobs_list(
    status: Annotated[str | None, typer.Option(help="queued, running, done or dead.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind of job.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Jobs of the workspace, newest first."""
    with open() as ws:
        print_frame(list_jobs(ws, status=status, kind=kind, limit=limit), fmt)


@jobs_app.command("kinds")
def jobs_kinds(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """The kinds of job this cxlens knows, and what refreshes them."""
    import pandas as pd

    rows = [{"kind": t.kind, "refreshed_when": ", ".join(t.tables) or "queued explicitly",
             "doc": (t.doc.strip().splitlines() or [""])[0]} for t in sorted(REGISTRY.values(), key=lambda t: t.kind)]  # fmt: skip
    print_frame(pd.DataFrame(rows), fmt)


@jobs_app.command("retry")
def jobs_retry(job_id: Annotated[str, typer.Argument(help="The id of a dead (or done) job.")]) -> None:
    """Queue a dead job again, with a fresh set of attempts."""
    with open() as ws:
        job = retry(ws, job_id)
    out.print(f"{job.job_id} ({job.kind}) queued again", markup=False, highlight=False)


@jobs_app.command("run")
def jobs_run(
    workers: Annotated[int, typer.Option(help="Worker threads.")] = 1,
    seconds: Annotated[float | None, typer.Option(help="Stop after this long (default: until Ctrl+C).")] = None,
    refresh: Annotated[bool, typer.Option(help="Queue refreshes of stale stored results.")] = True,
) -> None:
    """Run a job worker in the foreground (what `cxlens serve` does in the background)."""
    with open() as ws:
        runner = JobRunner(ws, workers=workers, refresh=refresh).start()
        err.print(f"job runner started ({workers} worker(s)); Ctrl+C to stop", markup=False)
        try:
            deadline = None if seconds is None else time.monotonic() + seconds
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            runner.stop()
        err.print(f"done: {runner.completed} completed, {runner.failed} failed", markup=False)
