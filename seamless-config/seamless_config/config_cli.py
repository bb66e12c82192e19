"""``seamless-config`` (also ``python -m seamless_config``): ask the configuration, launch nothing.

``seamless-config explain [--stage S] [--substage SS] [--json] [--workdir D]`` prints what
``set_stage()`` would do from D (default: the current directory): the files it reads, each
setting and where it comes from, the mode, and each service it would launch (with the state of
the one already running under that key). Exit codes: 0 ok, 1 failure, 2 usage or a
``ConfigurationError`` (the same as ``set_stage()`` would raise).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from .errors import ConfigurationError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seamless-config",
        description="Explain the Seamless configuration of a directory without launching anything.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser(
        "explain",
        help="what set_stage() would do: files read, settings and their sources, mode, services",
        description="Read the command files as seamless_config.set_stage() would and print the files read "
        "(in order), each setting with its value and source (file:line, Python, or the default and why), "
        "the mode, and each service it would launch (key, where it runs, ports, parameters) with the "
        "state of the one already running under that key. Nothing is launched.",
    )
    explain.add_argument("--stage", help="the stage, as in set_stage(STAGE) (default: no stage)")
    explain.add_argument("--substage", help="the substage, as in set_stage(STAGE, SUBSTAGE)")
    explain.add_argument("--workdir", help="where the command-file search starts (default: the current directory)")
    explain.add_argument("--json", action="store_true", help="one JSON document instead of text")
    explain.add_argument(
        "--no-state", action="store_true",
        help="do not ask (locally or over SSH) whether the services are running",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workdir is not None and not os.path.isdir(args.workdir):
        parser.error(f"--workdir {args.workdir}: no such directory")
    from . import explain  # yaml and the launcher helpers: only when a command runs

    try:
        doc = explain.explain(args.stage, args.substage, workdir=args.workdir, with_state=not args.no_state)
    except ConfigurationError as exc:
        print(f"seamless-config: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        sys.stdout.write(explain.render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
