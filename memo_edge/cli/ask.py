"""memo ask PACK "QUESTION" [--executive none|URL|local:PACK] [--protocol structured|single-turn] [--trace] [--profile]"""

from __future__ import annotations

from pathlib import Path

import typer

from memo_edge.protocol import ProtocolConfig
from memo_edge.runtime.config import ExecutiveConfig, LoadConfig

from .app import app
from .options import Group, config_options

# The option groups `memo ask | eval | serve | mcp` share: one declaration each (runtime/config.py, protocol.py).
PROTOCOL = Group(ProtocolConfig, "protocol_cfg", flags={"memory_max_tokens": "--max-new-tokens"})
LOAD = Group(LoadConfig, "load", flags={"trusted_keys": "--trusted-key"})
EXECUTIVE = Group(
    ExecutiveConfig,
    "executive_cfg",
    flags={"executive": ("--executive", "-e"), "executive_timeout_s": "--executive-timeout"},
)
# `memo ask` spelled the key variable --api-key-env before serve/mcp named theirs: both spellings work here.
ASK_EXECUTIVE = Group(
    ExecutiveConfig,
    "executive_cfg",
    flags={**EXECUTIVE.flags, "executive_api_key_env": ("--executive-api-key-env", "--api-key-env")},
)


@app.command("ask")
@config_options(ASK_EXECUTIVE, PROTOCOL, LOAD)
def ask(
    pack: Path = typer.Argument(None, help="Pack directory or .memopack file."),
    question: str = typer.Argument(None, help="The question to answer."),
    protocol: str = typer.Option(
        None,
        "--protocol",
        "-p",
        help="structured (grounding -> entity pinning -> answer seeking -> final), single-turn (decompose once, "
        "ask once, answer) or none. Default: structured with an executive, none without (naming structured or "
        "single-turn without an executive is refused).",
    ),
    trace: Path = typer.Option(None, "--trace", help="Write the run's trace (JSON lines) here and print it readably."),
    show_trace: Path = typer.Option(None, "--show-trace", help="Only print an existing trace file readably."),
    profile: Path = typer.Option(
        None,
        "--profile",
        help="Write a latency profile JSON here, plus PROFILE.trace.json (Chrome/Perfetto) "
        "and PROFILE.png (timeline; needs matplotlib).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON (answer, justification, timings)."),
    stream: bool = typer.Option(
        True, "--stream/--no-stream", help="With --executive none, print the answer token by token as it is generated."
    ),
    *,
    executive_cfg: ExecutiveConfig,
    protocol_cfg: ProtocolConfig,
    load: LoadConfig,
):
    """Answer a question from a memory pack, alone or driven by an EXECUTIVE through MeMo's protocol.

    Prints the answer on stdout and one latency line on stderr (time to first token, decode tokens/s). If the
    executive fails (unreachable, or no usable reply), the protocol's fallback answer is printed, a warning names
    the cause, and the exit code is 3."""
    # Imported here, not at the top: every verb module is imported for `memo --help`, and these load onnxruntime.
    import json
    import sys

    from memo_edge.atomic import regular_target
    from memo_edge.errors import MemoError
    from memo_edge.runtime.ask import AskService
    from memo_edge.runtime.executives import from_config
    from memo_edge.runtime.memory import Memory
    from memo_edge.runtime.profile import Profile, latency_line
    from memo_edge.runtime.trace_view import print_trace, terminal_safe
    from memo_edge.tracing import Tracer

    if show_trace is not None:
        print_trace(show_trace)
        return
    if pack is None or question is None:
        raise MemoError('usage: memo ask PACK "QUESTION" (or memo ask --show-trace TRACE.jsonl)')

    for out in (trace, profile):
        if out is not None:
            regular_target(out)  # refused before the pack loads: a device, FIFO or directory is never replaced
    seed = protocol_cfg.seed
    memory = Memory.load(pack, seed=seed, **load.engine_kwargs())
    executive = from_config(executive_cfg, threads=load.threads, seed=seed)
    service = AskService(memory, executive, protocol_cfg, protocol or "structured")
    tracer = Tracer(trace)
    streamed = []

    def on_text(text: str) -> None:
        if not streamed:
            text = text.lstrip()
        if text:
            streamed.append(text)
            sys.stdout.write(terminal_safe(text))  # a lone ESC split from its sequence is dropped too
            sys.stdout.flush()

    live = stream and executive is None and not as_json
    try:
        answer = service.ask(question, mode=protocol, tracer=tracer, on_text=on_text if live else None)
    finally:
        tracer.close()
    if trace is not None:
        print_trace(trace, file=sys.stderr)
    if as_json:
        print(
            json.dumps(
                {**answer.to_dict(), "pack_id": memory.pack_id, "signed_by": memory.engine.pack.signer},
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
    elif live and "".join(streamed).strip() == answer.final_answer:
        print()
    else:
        if streamed:
            print()
        print(terminal_safe(answer.final_answer))
    print(latency_line(answer, load_s=memory.engine.load_s), file=sys.stderr)
    if profile is not None:
        prof = Profile()
        prof.add(answer)
        written = prof.write(profile)
        prof.print_summary(file=sys.stderr)
        print("profile: " + ", ".join(str(p) for p in written), file=sys.stderr)
    if answer.status == "fallback":
        # the answer above is the protocol's best guess without a working executive: say so, and exit 3
        print(
            f"warning: the executive failed ({terminal_safe(answer.error or '')}); the answer is the protocol's fallback, not the "
            "executive's (exit code 3)",
            file=sys.stderr,
        )
        raise typer.Exit(3)
