"""recommend: the Optimize commands' group. Each recommender family adds its subcommand
to ``recommend_app`` from its own CLI module (``recommend commitments``, ``recommend
rightsizing``, ``recommend waste``, ``recommend accept|dismiss ID``)."""

from __future__ import annotations

import typer

from cloudledger.cli.common import app

recommend_app = typer.Typer(
    help="Savings recommendations with evidence and a dollar figure: commitments, "
         "rightsizing, waste; accept or dismiss them by id.", no_args_is_help=True)
app.add_typer(recommend_app, name="recommend")
