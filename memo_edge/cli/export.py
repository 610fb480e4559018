"""memo export | memo keygen"""

from __future__ import annotations

from pathlib import Path

import typer

from memo_edge.export.config import ExportConfig

from .app import app, require_extra
from .options import Group, config_options

EXPORT = Group(ExportConfig, "config")


@app.command("export")
@config_options(EXPORT)
def export(
    checkpoint: Path = typer.Argument(
        ..., help="Trained (merged) HF checkpoint directory, e.g. the output of memo train."
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Pack directory to write (replaced atomically)."),
    *,
    config: ExportConfig,
):
    """Export a checkpoint to a memory pack: model files, tokenizer, and a manifest with sha256 of every file."""
    require_extra("export", "torch", "transformers")
    # Imported here, not at the top: every verb module is imported for `memo --help`; export loads torch.
    from memo_edge.export import export_pack

    out = export_pack(checkpoint, output, **config.model_dump())
    typer.echo(str(out))


@app.command("keygen")
def keygen(key: Path = typer.Argument(..., help="Private key file to create (KEY.pub is written next to it).")):
    """Make an Ed25519 key pair for signing packs: KEY (private, mode 0600: keep it secret) and KEY.pub (give it to
    whoever loads your packs, for --trusted-key)."""
    from memo_edge.signing import generate, key_id, load_public_key

    priv, pub = generate(key)
    typer.echo(
        f"{priv} (private; memo export --sign {priv})\n{pub} (public; memo ask --trusted-key {pub}); "
        f"key id {key_id(load_public_key(pub))}"
    )
