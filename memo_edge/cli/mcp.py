"""memo mcp PACK [--port N] [--executive URL|local:PACK]: the memory as an MCP server (stdio, or streamable HTTP)."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app


@app.command("mcp")
def mcp(
    pack: Path = typer.Argument(..., help="Pack directory or .memopack file."),
    port: int = typer.Option(None, "--port", help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface for --port (loopback by default)."),
    executive: str = typer.Option("none", "--executive", "-e", envvar="MEMO_EXECUTIVE",
                                  help="Executive for mode 'structured': none, an OpenAI-compatible base URL, or "
                                       "local:PACK (env MEMO_EXECUTIVE)."),
    executive_model: str = typer.Option("default", "--executive-model", envvar="MEMO_EXECUTIVE_MODEL",
                                        help="Model name sent to the executive (env MEMO_EXECUTIVE_MODEL)."),
    executive_api_key_env: str = typer.Option("OPENAI_API_KEY", "--executive-api-key-env",
                                              help="Environment variable with the executive endpoint's key."),
    threads: int = typer.Option(None, "--threads", help="CPU threads (default: physical cores, at most 8)."),
    provider: str = typer.Option("auto", "--provider", help="auto, cpu, cuda, or an onnxruntime provider name."),
):
    """Serve a pack to desktop assistants over the Model Context Protocol: tools ask_memory(question, mode) and
    memory_info(). stdio by default (the assistant starts this command); --port for streamable HTTP."""
    import sys

    import anyio

    from memo_edge.errors import MemoError
    from memo_edge.executives import make_executive
    from memo_edge.runtime.memory import Memory

    try:
        from memo_edge.runtime.mcp_server import build_server, serve_http
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("mcp", "mcp_types"):
            raise MemoError("memo mcp needs the MCP SDK: pip install 'memo-edge[mcp]'") from None
        raise
    mem = Memory.load(pack, threads=threads, provider=None if provider == "auto" else provider)
    ex = make_executive(executive, model=executive_model, api_key_env=executive_api_key_env, threads=threads)
    server = build_server(mem, executive=ex)
    where = "stdio" if port is None else f"http://{host}:{port}/mcp"
    # stdout is the protocol channel under stdio: everything human goes to stderr
    print(f"memo mcp: {server.title} on {where} (executive: {ex or 'none'})", file=sys.stderr, flush=True)
    try:
        if port is None:
            server.run("stdio")
        else:
            anyio.run(serve_http, server, host, port)
    except KeyboardInterrupt:
        pass
