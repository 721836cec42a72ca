"""Command line: `python -m kernel_ext export NOTEBOOK.ipynb --out DIR [--force]`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kernel_ext", description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    export = commands.add_parser(
        "export",
        help="write a notebook's app as a deployable package (app/, requirements, Dockerfile)",
        description="Export the cells that build the app; see docs/export.md for the rules.",
    )
    export.add_argument("notebook", help="the .ipynb file")
    export.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    export.add_argument("--force", action="store_true", help="overwrite a non-empty DIR")
    export.add_argument(
        "--app",
        default="app",
        metavar="NAME",
        help="the notebook variable holding the FastAPI app (default: app)",
    )
    export.add_argument(
        "-v", "--verbose", action="store_true", help="also say why each skipped cell was left out"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ._export import ExportError, export_notebook

    try:
        result = export_notebook(args.notebook, args.out, force=args.force, app_name=args.app)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug of ours: still one line, and a way to see more
        if os.environ.get("KERNEL_EXT_DEBUG"):
            raise
        print(
            f"error: kernel_ext export failed ({type(exc).__name__}: {exc}); "
            "KERNEL_EXT_DEBUG=1 shows the traceback. Please report it.",
            file=sys.stderr,
        )
        return 1
    print(result.summary())
    if args.verbose:
        for line in result.skipped():
            print(f"  skipped {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
