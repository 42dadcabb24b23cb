"""The `jobgraph` command line. Errors print one line and exit non-zero."""

from __future__ import annotations

import traceback

from jobgraph.errors import JobgraphError, UserError

EXIT_USER_ERROR = 1
EXIT_INTERNAL = 70


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map jobgraph errors to a clear message and an exit code."""
    from jobgraph.cli.app import app, err, state

    try:
        app(args=argv, prog_name="jobgraph", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else EXIT_USER_ERROR
    except JobgraphError as exc:
        if state.verbose:
            err.print(traceback.format_exc(), markup=False)
        kind = "error" if isinstance(exc, UserError) else "internal error"
        err.print(f"{kind}: {exc}", markup=False)
        return EXIT_USER_ERROR if isinstance(exc, UserError) else EXIT_INTERNAL
    except Exception as exc:
        if state.verbose:
            err.print(traceback.format_exc(), markup=False)
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (run with --verbose for the "
            "traceback and report it)",
            markup=False,
        )
        return EXIT_INTERNAL
    return 0
