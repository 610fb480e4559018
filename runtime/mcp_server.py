"""`memo mcp PACK`: the memory as an MCP server (official `mcp` SDK), for desktop assistants and any MCP client.

    ask_memory(question, mode)   mode "none": the memory model answers the question directly;
                                 "structured": MeMo's protocol, an executive LLM (memo mcp --executive, or
                                 MEMO_EXECUTIVE) questions the memory turn by turn and writes the final answer
    memory_info(full)            what the pack is: name, pack id, precision, what the corpus covers, reflections,
                                 measured recall (full: the whole export-metrics block too)

stdio by default (the assistant starts the process and talks over stdin/stdout); streamable HTTP on 127.0.0.1 with
`serve_http` (memo mcp --port), where the SDK refuses foreign Host/Origin headers (DNS rebinding). Torch-free, like
the rest of the runtime: the engine, a batcher shared by concurrent tool calls, and the protocol.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Literal

import anyio
import mcp_types
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from memo_edge.errors import MemoError

from .ask import AskService
from .batcher import Batcher
from .memory import Memory
from .server import model_name

INSTRUCTIONS = (
    "A private memory: a small model fine-tuned on the user's documents. Ask it factual questions "
    "about that corpus with ask_memory; memory_info says what it holds. Answers come from the "
    "memory model and can be wrong or 'I don't know.': ask simple one-fact questions, and several "
    "of them for a multi-step question, or use mode 'structured' when an executive is configured."
)


class MemoryAnswer(BaseModel):
    answer: str = Field(description="The final answer ('I don't know.' when the memory has nothing).")
    mode: str = Field(description="none | structured: how it was answered.")
    status: str = Field(description="ok, or fallback when the executive failed and the run ended with what it knew.")
    justification: str = ""
    entity: str | None = None
    memory_calls: int = 0
    executive_calls: int = 0
    wall_s: float = 0.0


class MemoryInfo(BaseModel):
    name: str
    pack: str
    pack_id: str = ""
    base_model: str | None = None
    precision: str
    context_length: int
    corpus: str = Field("", description="What the memory covers: its documents, as the pack's manifest records them.")
    corpus_fingerprint: str | None = None
    reflections: int | None = Field(None, description="Reflections (question-answer facts) it was trained on.")
    recall: dict | None = Field(None, description="Measured at export on trained reflections.")
    metrics: dict | None = Field(None, description="The whole export-metrics block (only when asked: full=true).")
    created_at: str = ""
    memo_edge_version: str = ""
    modes: list[str] = Field(description="Modes ask_memory accepts on this server.")
    executive: str | None = Field(None, description="The executive for mode 'structured', if configured.")


MAX_TITLES = 10
MAX_SUMMARY = 300


def corpus_summary(manifest) -> str:
    """One line saying what the memory covers, from what export wrote into the manifest (training's provenance:
    the corpus's document count and titles, reflection counts; the build date): "Memory of 12 documents (titles:
    A, B, ...; built 2026-12-06)". At most MAX_TITLES titles and MAX_SUMMARY characters."""
    prov = manifest.provenance or {}
    corpus = prov.get("corpus") if isinstance(prov.get("corpus"), dict) else {}
    titles = [str(t) for t in corpus.get("titles") or [] if str(t).strip()]
    docs = corpus.get("documents")
    docs = docs if isinstance(docs, int) and not isinstance(docs, bool) else (len(titles) or None)
    n_refl = reflection_count(manifest)
    what = f"{docs} document{'s' * (docs != 1)}" if docs else None
    if what is None:
        what = f"{n_refl} reflections" if n_refl else "an unrecorded corpus"
    parts = []
    if titles:
        shown = ", ".join(t if len(t) <= 60 else t[:57] + "..." for t in titles[:MAX_TITLES])
        more = len(titles) > MAX_TITLES or (docs or 0) > len(titles)
        parts.append(f"titles: {shown}{', ...' if more else ''}")
    if docs and n_refl:
        parts.append(f"{n_refl} reflections")
    if manifest.created_at:
        parts.append(f"built {manifest.created_at[:10]}")
    line = f"Memory of {what}" + (f" ({'; '.join(parts)})" if parts else "")
    if len(line) > MAX_SUMMARY:  # long titles: cut inside the list, keep the count and the date readable
        line = line[: MAX_SUMMARY - 4] + "...)"
    return line


def reflection_count(manifest) -> int | None:
    """How many reflections the memory was trained on, as training counted them (provenance counts)."""
    counts = (manifest.provenance or {}).get("counts")
    n = counts.get("reflections") if isinstance(counts, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def build_server(memory: Memory, executive=None, protocol_config=None) -> MCPServer:
    """An MCPServer with the two tools over `memory` (its engine behind a batcher of the engine's batch cap:
    concurrent calls share batches and the engine is driven by one thread)."""
    engine = memory.engine
    mem = Memory(engine, generator=Batcher(engine), seed=memory.seed, abstain=memory.known is not None)
    name = model_name(engine.pack)
    modes = ["none", "structured"] if executive is not None else ["none"]
    asker = AskService(mem, executive, protocol_config, mode=modes[-1])
    summary = corpus_summary(engine.manifest)
    server = MCPServer(name="memo-edge", title=f"memory: {name}", instructions=f"{INSTRUCTIONS} {summary}.")
    read_only = ToolAnnotations(
        readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=executive is not None
    )

    @server.tool(annotations=read_only, description=f"Ask the private memory a question about its corpus. {summary}.")
    def ask_memory(
        question: str = Field(description="A question about the memory's corpus.", min_length=1, max_length=2000),
        mode: Literal["none", "structured"] | None = Field(
            None,
            description="none: the memory answers directly. structured: an executive LLM "
            "questions the memory step by step (multi-hop). Default: structured "
            "when an executive is configured, else none.",
        ),
    ) -> MemoryAnswer:
        """Ask the private memory a question about its corpus."""
        try:
            ans = asker.ask(question, mode=mode)  # a mode that needs a missing executive: NoExecutive, below
        except MemoError as e:  # bad input: the assistant sees why; anything else is a crash the SDK logs
            raise ToolError(str(e)) from None
        return MemoryAnswer(
            answer=ans.final_answer,
            mode=ans.mode,
            status=ans.status,
            justification=ans.justification,
            entity=ans.entity,
            memory_calls=ans.memory_calls,
            executive_calls=ans.executive_calls,
            wall_s=round(ans.wall_s, 3),
        )

    @server.tool(annotations=read_only)
    def memory_info(
        full: bool = Field(False, description="Also return the whole export-metrics block (long)."),
    ) -> MemoryInfo:
        """What this memory is: name, pack id, precision, what its corpus covers, reflections and measured recall."""
        m = engine.manifest
        prov = m.provenance or {}
        recall = m.metrics.get("recall") if isinstance(m.metrics, dict) else None
        return MemoryInfo(
            name=name,
            pack=str(engine.pack.root),
            pack_id=engine.pack.pack_id,
            base_model=prov.get("base") or prov.get("base_model"),
            precision=m.precision,
            context_length=m.model.context_length,
            corpus=summary,
            corpus_fingerprint=prov.get("corpus_fingerprint"),
            reflections=reflection_count(m),
            recall=recall if isinstance(recall, dict) else None,
            metrics=(m.metrics or None) if full else None,
            created_at=m.created_at,
            memo_edge_version=m.memo_edge_version,
            modes=modes,
            executive=str(executive) if executive is not None else None,
        )

    return server


async def serve_http(server: MCPServer, host: str, port: int) -> None:
    """Streamable HTTP at http://HOST:PORT/mcp (the SDK turns on its Host/Origin checks for loopback hosts)."""
    await server.run_streamable_http_async(host=host, port=port)


_ID = re.compile(r'"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)')


def _error_for(line: str) -> mcp_types.JSONRPCError | None:
    """The JSON-RPC error answering a line the SDK cannot read: parse error (-32700) or invalid request (-32600),
    with the line's id when one can be found. None for a readable notification without an id (no answer due)."""
    try:
        doc = json.loads(line)
    except RecursionError:  # 50,000-deep nesting: not JSON we read, but its id may still be found
        doc, code = None, mcp_types.INVALID_REQUEST
    except ValueError:
        doc, code = None, mcp_types.PARSE_ERROR
    else:
        code = mcp_types.INVALID_REQUEST
    if isinstance(doc, dict):
        rid = doc.get("id")
        if "id" not in doc and "method" in doc:
            return None  # a notification: JSON-RPC answers none, even when invalid
    else:
        m = _ID.search(line)
        rid = json.loads(m.group(1)) if m else None
    if not isinstance(rid, (str, int)) or isinstance(rid, bool):
        rid = None
    why = "not valid JSON" if code == mcp_types.PARSE_ERROR else "not a valid JSON-RPC 2.0 request"
    return mcp_types.JSONRPCError(jsonrpc="2.0", id=rid, error=mcp_types.ErrorData(code=code, message=why))


class _CheckedLines:
    """stdin's lines for the SDK's stdio transport, minus those it cannot read, which are answered here with a
    JSON-RPC error instead: the SDK drops them silently and the client would wait forever for that id."""

    def __init__(self, lines):
        self.lines = lines
        self.write = None  # the transport's write stream, set once it exists

    async def __aiter__(self):
        async for line in self.lines:
            if not line.strip():
                continue
            try:
                mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except Exception:  # noqa: BLE001 - pydantic's ValidationError, RecursionError: all mean unreadable
                err = _error_for(line)
                if err is not None and self.write is not None:
                    await self.write.send(SessionMessage(err))
                continue
            yield line


async def serve_stdio(server: MCPServer) -> None:
    """`server.run("stdio")` with every unreadable message answered (see _CheckedLines)."""
    stdin = _CheckedLines(anyio.wrap_file(open(sys.stdin.fileno(), encoding="utf-8", errors="replace", closefd=False)))
    async with stdio_server(stdin=stdin) as (read_stream, write_stream):
        stdin.write = write_stream
        low = server._lowlevel_server  # the SDK's own run_stdio_async does exactly this
        await low.run(read_stream, write_stream, low.create_initialization_options())
