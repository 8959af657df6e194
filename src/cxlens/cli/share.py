"""``cxlens share …``: signed, expiring, read-only links to a report view (docs/act.md, "Shared links")."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from cxlens.cli._app import Fmt, app, open, out, print_frame

share_app = typer.Typer(help="Shared links: a read-only view of a report for people without an account.",
                        no_args_is_help=True)  # fmt: skip
app.add_typer(share_app, name="share", rich_help_panel="Act")

FmtOpt = Annotated[Fmt, typer.Option("--format", help="table, json or csv.")]


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in this environment
        return "cli"


@share_app.command("create")
def share_create(
    view: Annotated[str, typer.Argument(help="overview, journey, themes or digest:RULE.")],
    expires: Annotated[str, typer.Option(help="How long the link lives (e.g. 12h, 7d; at most 90d).")] = "7d",
    role: Annotated[
        str, typer.Option(help="The role whose view it shows: admin (personal data shown) or analyst (masked).")
    ] = "admin",  # fmt: skip
    start: Annotated[str | None, typer.Option(help="First day (overview, journey, themes).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day (overview, journey, themes).")] = None,
    fmt: FmtOpt = Fmt.table,
) -> None:
    """Make a link and print it (its token is shown this once; only its hash is kept)."""
    import pandas as pd

    with open() as ws:
        link = ws.act.share(view, role=role, expires=expires, created_by=_who(), start=start, end=end)
        base = ws.store.setting("act.base_url", None) or os.environ.get("CXLENS_BASE_URL")
    link["url"] = (str(base).rstrip("/") if base else "") + link["path"]
    if fmt is Fmt.table:
        out.print(link["url"], soft_wrap=True, highlight=False)
        out.print(f"{link['link_id']}: {view}, {role} view, expires {link['expires_at']:%Y-%m-%d %H:%M} UTC"
                  + ("" if base else " — set act.base_url (or CXLENS_BASE_URL) to print the full address"),
                  highlight=False)  # fmt: skip
        return
    print_frame(pd.DataFrame([{k: link[k] for k in ("link_id", "url", "view", "role", "expires_at")}]), fmt)


@share_app.command("list")
def share_list(active: Annotated[bool, typer.Option(help="Only links that still open.")] = False,
               fmt: FmtOpt = Fmt.table) -> None:  # fmt: skip
    """Every shared link (never its token) with its status: active, expired or revoked."""
    with open() as ws:
        print_frame(ws.act.shares(active=active), fmt)


@share_app.command("revoke")
def share_revoke(link_id: str) -> None:
    """Revoke a link: from now on it answers 410."""
    with open() as ws:
        ws.act.revoke_share(link_id, who=_who())
    out.print(f"revoked {link_id}", highlight=False)
