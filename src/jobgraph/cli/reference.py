"""Generate docs/cli.md from the commands themselves: `python -m jobgraph.cli.reference`."""

from __future__ import annotations

from typing import Any

import typer
import typer.main

from jobgraph.cli.app import app


def _usage(cmd: Any, ctx: Any) -> str:
    pieces = cmd.collect_usage_pieces(ctx)
    return " ".join([ctx.command_path, *pieces])


def generate() -> str:
    root = typer.main.get_command(app)
    lines = [
        "# Command-line reference",
        "",
        "Generated from the commands by `make docs` (`python -m jobgraph.cli.reference`); a test "
        "fails when it is out of date.",
        "",
    ]
    root_ctx = typer.Context(root, info_name="jobgraph")
    lines += ["## jobgraph", "", (root.help or "").strip(), "", "Global options:", ""]
    lines += _options(root, root_ctx)
    lines += _commands(root, root_ctx, "jobgraph")
    return "\n".join(lines).rstrip() + "\n"


def _commands(group: Any, parent_ctx: Any, prefix: str) -> list[str]:
    lines: list[str] = []
    commands: dict[str, Any] = group.commands
    for name in sorted(commands):
        cmd = commands[name]
        ctx = typer.Context(cmd, info_name=name, parent=parent_ctx)
        lines += [f"## {prefix} {name}", "", (cmd.help or "").strip(), ""]
        if hasattr(cmd, "commands"):
            lines += _commands(cmd, ctx, f"{prefix} {name}")
            continue
        lines += ["```", _usage(cmd, ctx), "```", ""]
        lines += _options(cmd, ctx)
    return lines


def _options(cmd: Any, ctx: Any) -> list[str]:
    rows = []
    for param in cmd.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is None:
            if param.param_type_name == "argument":
                help_text = getattr(param, "help", None) or ""
                rows.append(f"- `{param.human_readable_name}`: {help_text}".rstrip(": "))
            continue
        names, help_text = record
        if names.startswith("--help"):
            continue
        rows.append(f"- `{names}`: {help_text}".rstrip(": "))
    return [*rows, ""] if rows else []


if __name__ == "__main__":
    print(generate(), end="")
