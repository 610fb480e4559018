"""memo ask PACK "QUESTION" [--executive none|URL|local:PACK] [--protocol structured|single-turn] [--trace] [--profile]"""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app


@app.command("ask")
def ask(
    pack: Path = typer.Argument(None, help="Pack directory or .memopack file."),
    question: str = typer.Argument(None, help="The question to answer."),
    executive: str = typer.Option("none", "--executive", "-e",
                                  help="none (the memory answers directly), an OpenAI-compatible base URL "
                                       "(e.g. http://127.0.0.1:8000/v1; comma-separate several), or local:PACK."),
    executive_model: str = typer.Option("default", "--executive-model", help="Model name sent to the executive endpoint."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env",
                                    help="Environment variable holding the executive endpoint's API key."),
    executive_timeout: float = typer.Option(60.0, "--executive-timeout", help="Seconds per executive call."),
    protocol: str = typer.Option("structured", "--protocol", "-p",
                                 help="structured (grounding -> entity pinning -> answer seeking -> final) or "
                                      "single-turn (decompose once, ask once, answer). Ignored with --executive none."),
    entity_turns: int = typer.Option(7, "--entity-turns", min=0, help="Entity-pinning turn budget."),
    answer_turns: int = typer.Option(8, "--answer-turns", min=0, help="Answer-seeking turn budget."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", min=1, help="Memory reply length limit (tokens)."),
    seed: int = typer.Option(None, "--seed", help="Seed for sampled replies (memory; a local:PACK executive too)."),
    threads: int = typer.Option(None, "--threads", min=1, help="CPU threads (default: physical cores, at most 8; or $MEMO_THREADS)."),
    provider: str = typer.Option("auto", "--provider", help="auto (CUDA when available, else CPU), cpu, cuda, or an "
                                                            "onnxruntime provider name."),
    trace: Path = typer.Option(None, "--trace", help="Write the run's trace (JSON lines) here and print it readably."),
    show_trace: Path = typer.Option(None, "--show-trace", help="Only print an existing trace file readably."),
    profile: Path = typer.Option(None, "--profile",
                                 help="Write a latency profile JSON here, plus PROFILE.trace.json (Chrome/Perfetto) "
                                      "and PROFILE.png (timeline; needs matplotlib)."),
    trusted_key: list[Path] = typer.Option(None, "--trusted-key",
                                           help="Public key file (memo keygen's KEY.pub); repeatable. The pack "
                                                "must be signed by one of them: unsigned or foreign packs are "
                                                "refused. Default: $MEMO_TRUSTED_KEY."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON (answer, justification, timings)."),
    stream: bool = typer.Option(True, "--stream/--no-stream",
                                help="With --executive none, print the answer token by token as it is generated."),
):
    """Answer a question from a memory pack, alone or driven by an EXECUTIVE through MeMo's protocol.

    Prints the answer on stdout and one latency line on stderr (time to first token, decode tokens/s). If the
    executive fails (unreachable, or no usable reply), the protocol's fallback answer is printed, a warning names
    the cause, and the exit code is 3."""
    import json
    import sys

    from memo_edge.errors import MemoError

    if show_trace is not None:
        from memo_edge.runtime.trace_view import print_trace

        print_trace(show_trace)
        return
    if pack is None or question is None:
        raise MemoError("usage: memo ask PACK \"QUESTION\" (or memo ask --show-trace TRACE.jsonl)")

    from memo_edge.executives import make_executive
    from memo_edge.protocol import ProtocolConfig, run_protocol
    from memo_edge.runtime.memory import Memory
    from memo_edge.tracing import Tracer

    mem = Memory.load(pack, threads=threads, provider=None if provider == "auto" else provider, seed=seed,
                      trusted_keys=list(trusted_key) if trusted_key else None)
    ex = make_executive(executive, model=executive_model, api_key_env=api_key_env, timeout_s=executive_timeout,
                        threads=threads, seed=seed)
    cfg = ProtocolConfig(entity_turns=entity_turns, answer_turns=answer_turns, memory_max_tokens=max_new_tokens,
                         seed=seed)
    if trace is not None:
        trace.unlink(missing_ok=True)
    tracer = Tracer(trace)
    streamed = []

    def on_text(text: str) -> None:
        if not streamed:
            text = text.lstrip()
        if text:
            streamed.append(text)
            sys.stdout.write(text)
            sys.stdout.flush()

    live = stream and ex is None and not as_json
    try:
        ans = run_protocol(question, mem, ex, mode=protocol, config=cfg, tracer=tracer,
                           on_text=on_text if live else None)
    finally:
        tracer.close()
    if trace is not None:
        from memo_edge.runtime.trace_view import print_trace

        print_trace(trace, file=sys.stderr)
    if as_json:
        print(json.dumps({**ans.to_dict(), "pack_id": mem.pack_id, "signed_by": mem.engine.pack.signer},
                         ensure_ascii=False, indent=2, default=str))
    elif live and "".join(streamed).strip() == ans.final_answer:
        print()
    else:
        if streamed:
            print()
        print(ans.final_answer)
    from memo_edge.runtime.profile import latency_line

    print(latency_line(ans, load_s=mem.engine.load_s), file=sys.stderr)
    if profile is not None:
        from memo_edge.runtime.profile import Profile

        prof = Profile()
        prof.add(ans)
        written = prof.write(profile)
        prof.print_summary(file=sys.stderr)
        print("profile: " + ", ".join(str(p) for p in written), file=sys.stderr)
    if ans.status == "fallback":
        # the answer above is the protocol's best guess without a working executive: say so, and exit 3
        print(f"warning: the executive failed ({ans.error}); the answer is the protocol's fallback, not the "
              "executive's (exit code 3)", file=sys.stderr)
        raise typer.Exit(3)
