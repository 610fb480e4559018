"""CLI options generated from the pydantic config models: each setting is declared once, in its model.

    @app.command("ask")
    @config_options(Group(ProtocolConfig, "protocol", flags={"memory_max_tokens": "--max-new-tokens"}))
    def ask(pack: Path = typer.Argument(...), *, protocol: ProtocolConfig): ...

Every field of the model becomes an option of the command: `--<prefix><field-name>` unless `flags` spells it
otherwise, the field's description as its help, the field's default as its default. The command receives the
validated model (or, with `as_dict`, only the values given on the command line, for `memo build` to lay over its
--config file). A value the model refuses is one `error:` line naming the flag (exit code 2).
`tests/test_cli_config.py` checks that every field is an option (or excluded here with a reason) and that no option's
default differs from its field's.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from dataclasses import dataclass, field, replace

import typer
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from memo_edge.errors import MemoError
from memo_edge.settings import env


@dataclass(frozen=True)
class Group:
    """The options of one config model on one command."""

    model: type[BaseModel]
    param: str  # the command's keyword parameter that receives the model (or the dict of given values)
    prefix: str = ""  # "train." -> --train.epochs
    flags: dict[str, str | tuple[str, ...]] = field(default_factory=dict)  # field -> its flag name(s)
    envvars: dict[str, str] = field(default_factory=dict)  # field -> the EnvSettings field read when no flag
    exclude: dict[str, str] = field(default_factory=dict)  # field -> why it is not an option
    as_dict: bool = False

    def fields(self) -> dict:
        return {name: info for name, info in self.model.model_fields.items() if name not in self.exclude}

    def names(self, name: str) -> tuple[str, ...]:
        given = self.flags.get(name)
        if given is None:
            return (f"--{self.prefix}{name.replace('_', '-')}",)
        return (given,) if isinstance(given, str) else tuple(given)

    def option_param(self, name: str) -> str:
        return f"{self.param}__{name}"

    def nested(self, table: str, param: str | None = None, **changes) -> Group:
        """The same options under `--TABLE.` (memo build's view of a stage's options), values as a dict."""
        flags = {name: f"--{table}.{self.names(name)[0].split('/')[0][2:]}" for name in self.flags}
        return replace(
            self,
            param=param or table,
            prefix=f"{table}.",
            flags={**flags, **changes.pop("flags", {})},
            as_dict=True,
            **changes,
        )


def field_default(info):
    """A field's default as the CLI shows it (lists for tuples: a repeatable option's value is a list; None for a
    default computed from other fields, which its description states)."""
    if info.default_factory_takes_validated_data:
        return None
    default = info.get_default(call_default_factory=True)
    if default is PydanticUndefined:
        return ...
    return list(default) if isinstance(default, tuple | list) else default


def cli_annotation(annotation):
    """The type typer parses for a field: Optional[X] -> X, tuple[X, ...] -> list[X]; the rest as is."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return cli_annotation(rest[0]) if len(rest) == 1 else str
    if origin is tuple:
        return list[args[0]]
    if origin is typing.Annotated:
        return cli_annotation(args[0])
    return annotation


def _option(group: Group, name: str, info) -> inspect.Parameter:
    annotation = cli_annotation(info.annotation)
    names = group.names(name)
    if annotation is bool and len(names) == 1 and "/" not in names[0]:
        table, dot, flag = names[0][2:].rpartition(".")
        names = (f"{names[0]}/--{table}{dot}no-{flag}",)  # a switch both ways: the default may be either
    return inspect.Parameter(
        group.option_param(name),
        inspect.Parameter.KEYWORD_ONLY,
        annotation=annotation,
        default=typer.Option(field_default(info), *names, help=info.description or "", show_default=True),
    )


def flag_of(group: Group, loc: tuple) -> str | None:
    """The flag a validation error's location names (None: a check across fields, whose message names them)."""
    name = str(loc[0]) if loc else ""
    return group.names(name)[0].split("/")[0] if name in group.fields() else None


def config_options(*groups: Group):
    """Decorate a command: append each group's options to its signature and hand it the built models."""

    def wrap(command):
        signature = inspect.signature(command, eval_str=True)  # the module has `from __future__ import annotations`
        own = [p for p in signature.parameters.values() if p.name not in {g.param for g in groups}]
        generated = [_option(g, name, info) for g in groups for name, info in g.fields().items()]
        ctx_param = inspect.Parameter("_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)

        @functools.wraps(command)
        def run(*args, _ctx: typer.Context, **kwargs):
            for group in groups:
                given = {}
                for name in group.fields():
                    value = kwargs.pop(group.option_param(name))
                    source = _ctx.get_parameter_source(group.option_param(name))
                    if source is not None and source.name != "DEFAULT":
                        given[name] = value
                    elif name in group.envvars and getattr(env(), group.envvars[name]) is not None:
                        given[name] = getattr(env(), group.envvars[name])
                kwargs[group.param] = given if group.as_dict else build_model(group, given)
            return command(*args, **kwargs)

        run.__signature__ = signature.replace(parameters=[*own, *generated, ctx_param])
        run.__annotations__ = {}  # typer reads the types from __signature__
        run.option_groups = groups  # for the reachability test
        return run

    return wrap


def build_model(group: Group, values: dict) -> BaseModel:
    try:
        return group.model(**values)
    except ValidationError as e:
        err = e.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        flag = flag_of(group, err["loc"])
        raise MemoError(f"{flag}: {msg}" if flag else msg) from None
