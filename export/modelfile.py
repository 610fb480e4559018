"""The Ollama Modelfile: its TEMPLATE must render exactly the memory prompt the model was trained on.

A template that differs from the training prompt by even a newline is the usual cause of garbage answers after
fine-tuning, so the template is built from the MemoryPrompt itself and checked by rendering it back.
"""

from __future__ import annotations

from memo_edge.errors import MemoError
from memo_edge.pack import Generation
from memo_edge.prompt import MemoryPrompt


def _go_literal(text: str) -> str:
    """Text that Go's text/template prints verbatim ('{{' would start an action)."""
    return text.replace("{{", '{{ "{{" }}')


def template(prompt: MemoryPrompt) -> tuple[str, str | None]:
    """(TEMPLATE body, SYSTEM text or None). The system text becomes {{ .System }} when it appears once in the
    prefix, so `ollama run` users can see and override it; rendering with the default SYSTEM is exact."""
    prefix, system = prompt.prefix, None
    if prompt.system and prefix.count(prompt.system) == 1:
        before, after = prefix.split(prompt.system)
        body = f"{_go_literal(before)}{{{{ .System }}}}{_go_literal(after)}"
        system = prompt.system
    else:
        body = _go_literal(prefix)
    return f"{body}{{{{ .Prompt }}}}{_go_literal(prompt.suffix)}", system


def render(template_body: str, system: str | None, question: str) -> str:
    """What Ollama renders for one user message (enough of Go's template language for what we emit)."""
    out = template_body.replace("{{ .System }}", system or "").replace("{{ .Prompt }}", question)
    return out.replace('{{ "{{" }}', "{{")


def modelfile(prompt: MemoryPrompt, gguf_name: str, gen: Generation) -> str:
    body, system = template(prompt)
    for text in (body, system or ""):
        if '"""' in text:
            raise MemoError('memory prompt contains \'"""\', which an Ollama Modelfile cannot quote')
    if render(body, system, "Q?") != prompt.render("Q?"):
        raise MemoError("memory prompt: the Ollama TEMPLATE does not reproduce it exactly (internal error)")
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{body}"""']
    if system is not None:
        lines.append(f'SYSTEM """{system}"""')
    for s in prompt.stop:
        lines.append(f'PARAMETER stop "{s}"')
    lines += [
        f"PARAMETER temperature {gen.temperature}",
        f"PARAMETER top_p {gen.top_p}",
        f"PARAMETER num_predict {gen.max_new_tokens}",
    ]
    return "\n".join(lines) + "\n"
