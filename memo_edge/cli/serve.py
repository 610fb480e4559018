"""memo serve PACK [--host 127.0.0.1] [--port 8088] [--api-key-env VAR] [--model-name NAME] [--executive URL]"""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app


@app.command("serve")
def serve(
    pack: Path = typer.Argument(..., help="Pack directory or .memopack file."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind. Loopback by default: other machines "
                                                         "cannot connect unless you choose otherwise."),
    port: int = typer.Option(8088, "--port", min=0, max=65535, help="TCP port (0 = pick a free one)."),
    api_key_env: str = typer.Option(None, "--api-key-env",
                                    help="Environment variable holding an API key; when set, every request must send "
                                         "Authorization: Bearer KEY (else 401)."),
    executive: str = typer.Option("none", "--executive", "-e",
                                  help="Executive for /v1/memo/ask: none, an OpenAI-compatible base URL, or local:PACK."),
    executive_model: str = typer.Option("default", "--executive-model", help="Model name sent to the executive."),
    executive_api_key_env: str = typer.Option("OPENAI_API_KEY", "--executive-api-key-env",
                                              help="Environment variable with the executive endpoint's key."),
    protocol: str = typer.Option("structured", "--protocol", help="Default protocol for /v1/memo/ask."),
    threads: int = typer.Option(None, "--threads", help="CPU threads (default: physical cores, at most 8)."),
    provider: str = typer.Option("auto", "--provider", help="auto, cpu, cuda, or an onnxruntime provider name."),
    max_tokens: int = typer.Option(512, "--max-tokens", help="Largest max_tokens a request may ask for."),
    max_body_bytes: int = typer.Option(1 << 20, "--max-body-bytes", help="Largest request body accepted."),
    max_batch: int = typer.Option(16, "--max-batch", help="Most requests decoded together in one batch."),
    max_queue: int = typer.Option(256, "--max-queue", help="Queued requests beyond this get 503 + Retry-After."),
    cors_origin: list[str] = typer.Option(None, "--cors-origin",
                                          help="Browser origin allowed to call the API (repeatable; * for any), "
                                               "for desktop apps that call it from a webview. Requests from other "
                                               "origins get 403."),
    allow_host: list[str] = typer.Option(None, "--allow-host",
                                         help="Host header name accepted besides localhost/127.0.0.1/[::1] and "
                                              "the --host address (repeatable; * for any). Others get 403."),
    model_name: str = typer.Option(None, "--model-name",
                                   help="Model id clients send (default: the pack's name from its manifest)."),
    max_prompt_tokens: int = typer.Option(2048, "--max-prompt-tokens",
                                          help="Longest rendered prompt accepted; longer ones get 400."),
    request_timeout: float = typer.Option(300.0, "--request-timeout",
                                          help="Seconds a generation may take from arrival; then 504."),
    shutdown_timeout: float = typer.Option(30.0, "--shutdown-timeout",
                                           help="Seconds in-flight requests get to finish after SIGTERM/Ctrl-C."),
    trusted_key: list[Path] = typer.Option(None, "--trusted-key",
                                           help="Public key file (memo keygen's KEY.pub); repeatable. Unsigned or "
                                                "foreign packs are refused. Default: $MEMO_TRUSTED_KEY."),
):
    """Serve a pack as an OpenAI-compatible API (/v1/models, /v1/chat/completions with streaming), the whole MeMo
    protocol (/v1/memo/ask) and /healthz. Concurrent requests are batched. Stops cleanly on SIGTERM/Ctrl-C."""
    import os
    import signal
    import sys

    from pydantic import ValidationError

    from memo_edge.errors import MemoError, field_error
    from memo_edge.executives import make_executive
    from memo_edge.protocol import MODES
    from memo_edge.runtime.memory import Memory
    from memo_edge.runtime.server import LOOPBACK, MemoServer, ServerConfig

    if protocol not in MODES:
        raise MemoError(f"--protocol '{protocol}': expected one of {', '.join(MODES)}")
    key = None
    if api_key_env:
        key = os.environ.get(api_key_env, "")
        if not key:
            raise MemoError(f"--api-key-env {api_key_env}: that environment variable is empty or unset")
    if host not in LOOPBACK and not key:
        print(f"warning: serving on {host} without an API key: anyone who can reach this port can query the "
              f"memory (use --api-key-env)", file=sys.stderr)
    if host in ("0.0.0.0", "::") and not allow_host:
        print("note: requests must name this machine as localhost/127.0.0.1/[::1] in their Host header; other "
              "machines use its name or address: allow it with --allow-host NAME", file=sys.stderr)
    try:
        cfg = ServerConfig(host=host, port=port, api_key=key, max_tokens=max_tokens, max_body_bytes=max_body_bytes,
                           max_batch=max_batch, max_queue=max_queue, protocol=protocol, model_id=model_name,
                           cors_origins=tuple(cors_origin or ()), allow_hosts=tuple(allow_host or ()),
                           max_prompt_tokens=max_prompt_tokens, request_timeout_s=request_timeout,
                           shutdown_timeout_s=shutdown_timeout)
    except ValidationError as e:
        field, msg = field_error(e)
        flag = {"model_id": "model-name", "cors_origins": "cors-origin", "allow_hosts": "allow-host",
                "request_timeout_s": "request-timeout", "shutdown_timeout_s": "shutdown-timeout"}.get(field, field)
        raise MemoError(f"--{flag.replace('_', '-')}: {msg}") from None
    mem = Memory.load(pack, threads=threads, provider=None if provider == "auto" else provider,
                      trusted_keys=list(trusted_key) if trusted_key else None)
    ex = make_executive(executive, model=executive_model, api_key_env=executive_api_key_env, threads=threads)
    try:
        srv = MemoServer(mem, cfg, executive=ex)
    except OSError as e:
        raise MemoError(f"{host}:{port}: cannot listen ({e.strerror})") from None

    def on_signal(signum, again):
        what = "stopping now" if again else "finishing in-flight requests, then exiting"
        print(f"{signal.Signals(signum).name}: {what}", file=sys.stderr, flush=True)

    # uvicorn restores the handlers it found and re-raises the signal after its graceful shutdown: with these
    # in place that re-raise is a no-op, so SIGTERM ends in exit code 0 rather than death by signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    srv.uvicorn.on_signal = on_signal
    print(f"memo serve: {srv.model_id} on {srv.url}/v1 (executive: {ex or 'none'}; "
          f"{mem.engine.threads} threads, {mem.engine.providers[0]}){' [API key required]' if key else ''}",
          file=sys.stderr, flush=True)
    srv.serve_forever()
    print("memo serve: stopped", file=sys.stderr)
