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
    commands: dict[str, Any] = root.commands  # type: ignore[attr-defined]
    for name in sorted(commands):
        cmd = commands[name]
        ctx = typer.Context(cmd, info_name=name, parent=root_ctx)
        lines += [
            f"## jobgraph {name}",
            "",
            (cmd.help or "").strip(),
            "",
            "```",
            _usage(cmd, ctx),
            "```",
            "",
        ]
        opts = _options(cmd, ctx)
        if opts:
            lines += opts
    return "\n".join(lines).rstrip() + "\n"


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
