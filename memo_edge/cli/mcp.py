"""memo mcp PACK [--port N] [--executive URL|local:PACK]: the memory as an MCP server (stdio, or streamable HTTP)."""

from __future__ import annotations

from pathlib import Path

import typer

from memo_edge.protocol import ProtocolConfig
from memo_edge.runtime.config import ExecutiveConfig, LoadConfig, McpConfig

from .app import app
from .ask import EXECUTIVE, LOAD, PROTOCOL
from .options import Group, config_options

MCP = Group(McpConfig, "mcp_cfg")
# The assistant starts `memo mcp` from its own config file, where environment variables are easier than flags:
# MEMO_EXECUTIVE and MEMO_EXECUTIVE_MODEL (memo_edge/settings.py) stand in for the flags not given.
MCP_EXECUTIVE = Group(
    ExecutiveConfig,
    "executive_cfg",
    flags=EXECUTIVE.flags,
    envvars={"executive": "executive", "executive_model": "executive_model"},
)


@app.command("mcp")
@config_options(MCP, MCP_EXECUTIVE, PROTOCOL, LOAD)
def mcp(
    pack: Path = typer.Argument(..., help="Pack directory or .memopack file."),
    *,
    mcp_cfg: McpConfig,
    executive_cfg: ExecutiveConfig,
    protocol_cfg: ProtocolConfig,
    load: LoadConfig,
):
    """Serve a pack to desktop assistants over the Model Context Protocol: tools ask_memory(question, mode) and
    memory_info(). stdio by default (the assistant starts this command); --port for streamable HTTP.
    MEMO_EXECUTIVE and MEMO_EXECUTIVE_MODEL stand in for --executive and --executive-model when not given."""
    # Imported here, not at the top: every verb module is imported for `memo --help`; these load onnxruntime.
    import sys

    import anyio

    from memo_edge.errors import MemoError
    from memo_edge.runtime.executives import from_config
    from memo_edge.runtime.memory import Memory

    try:
        from memo_edge.runtime.mcp_server import build_server, serve_http, serve_stdio
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("mcp", "mcp_types"):
            raise MemoError("memo mcp needs the MCP SDK: pip install 'memo-edge[mcp]'") from None
        raise
    memory = Memory.load(pack, seed=protocol_cfg.seed, **load.engine_kwargs())
    executive = from_config(executive_cfg, threads=load.threads, seed=protocol_cfg.seed)
    server = build_server(memory, executive=executive, protocol_config=protocol_cfg)
    where = "stdio" if mcp_cfg.port is None else f"http://{mcp_cfg.host}:{mcp_cfg.port}/mcp"
    # stdout is the protocol channel under stdio: everything human goes to stderr
    print(f"memo mcp: {server.title} on {where} (executive: {executive or 'none'})", file=sys.stderr, flush=True)
    try:
        if mcp_cfg.port is None:
            anyio.run(serve_stdio, server)
        else:
            anyio.run(serve_http, server, mcp_cfg.host, mcp_cfg.port)
    except KeyboardInterrupt:
        pass
