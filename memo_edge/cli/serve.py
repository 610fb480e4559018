"""memo serve PACK [--host 127.0.0.1] [--port 8088] [--api-key-env VAR] [--model-name NAME] [--executive URL]"""

from __future__ import annotations

from pathlib import Path

import typer

from memo_edge.protocol import ProtocolConfig
from memo_edge.runtime.config import ExecutiveConfig, LoadConfig, ServerConfig

from .app import app
from .ask import EXECUTIVE, LOAD, PROTOCOL
from .options import Group, build_model, config_options

SERVER = Group(
    ServerConfig,
    "server",
    as_dict=True,
    flags={
        "model_id": "--model-name",
        "cors_origins": "--cors-origin",
        "allow_hosts": "--allow-host",
        "request_timeout_s": "--request-timeout",
        "shutdown_timeout_s": "--shutdown-timeout",
        "header_timeout_s": "--header-timeout",
        "body_timeout_s": "--body-timeout",
        "keep_alive_s": "--keep-alive",
    },
    exclude={"api_key": "a secret: read from the environment variable --api-key-env names, never a flag"},
)


@app.command("serve")
@config_options(SERVER, EXECUTIVE, PROTOCOL, LOAD)
def serve(
    pack: Path = typer.Argument(..., help="Pack directory or .memopack file."),
    api_key_env: str = typer.Option(
        None,
        "--api-key-env",
        help="Environment variable holding an API key; when set, every request must send "
        "Authorization: Bearer KEY (else 401).",
    ),
    *,
    server: dict,
    executive_cfg: ExecutiveConfig,
    protocol_cfg: ProtocolConfig,
    load: LoadConfig,
):
    """Serve a pack as an OpenAI-compatible API (/v1/models, /v1/chat/completions with streaming), the whole MeMo
    protocol (/v1/memo/ask) and /healthz. Concurrent requests are batched. Stops cleanly on SIGTERM/Ctrl-C."""
    # Imported here, not at the top: every verb module is imported for `memo --help`; these load uvicorn/onnxruntime.
    import os
    import signal
    import sys

    from memo_edge.errors import MemoError
    from memo_edge.runtime.executives import from_config
    from memo_edge.runtime.memory import Memory
    from memo_edge.runtime.server import LOOPBACK, MemoServer

    key = None
    if api_key_env:
        key = os.environ.get(api_key_env, "")
        if not key:
            raise MemoError(f"--api-key-env {api_key_env}: that environment variable is empty or unset")
    cfg: ServerConfig = build_model(SERVER, {**server, "api_key": key})
    if cfg.host not in LOOPBACK and not key:
        print(
            f"warning: serving on {cfg.host} without an API key: anyone who can reach this port can query the "
            f"memory (use --api-key-env)",
            file=sys.stderr,
        )
    if cfg.host in ("0.0.0.0", "::") and not cfg.allow_hosts:
        print(
            "note: requests must name this machine as localhost/127.0.0.1/[::1] in their Host header; other "
            "machines use its name or address: allow it with --allow-host NAME",
            file=sys.stderr,
        )
    memory = Memory.load(pack, seed=protocol_cfg.seed, **load.engine_kwargs())
    executive = from_config(executive_cfg, threads=load.threads, seed=protocol_cfg.seed)
    try:
        srv = MemoServer(memory, cfg, executive=executive, protocol_config=protocol_cfg)
    except OSError as e:
        raise MemoError(f"{cfg.host}:{cfg.port}: cannot listen ({e.strerror})") from None

    def on_signal(signum, again):
        what = "stopping now" if again else "finishing in-flight requests, then exiting"
        print(f"{signal.Signals(signum).name}: {what}", file=sys.stderr, flush=True)

    # uvicorn restores the handlers it found and re-raises the signal after its graceful shutdown: with these
    # in place that re-raise is a no-op, so SIGTERM ends in exit code 0 rather than death by signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    srv.uvicorn.on_signal = on_signal
    print(
        f"memo serve: {srv.model_id} on {srv.url}/v1 (executive: {executive or 'none'}; "
        f"{memory.engine.threads} threads, {memory.engine.providers[0]}){' [API key required]' if key else ''}",
        file=sys.stderr,
        flush=True,
    )
    srv.serve_forever()
    print("memo serve: stopped", file=sys.stderr)
