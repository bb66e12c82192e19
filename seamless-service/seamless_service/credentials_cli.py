"""``seamless-credentials``: the per-user TLS credentials of this machine.

Run by users (``check``, ``renew``) and over SSH by a client on another machine (``export``
prints the client's copy as JSON on stdout, after creating the credentials on first use).
Exit codes: 0 ok, 1 a credential problem, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys


from . import credentials
from .launcher_state import launcher_root
from .private_files import private_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seamless-credentials",
        description="Create, check, renew or export the per-user TLS credentials that Seamless "
        "services and their clients use (default directory ~/.seamless/tls).",
    )
    parser.add_argument("--directory", help="credentials directory (default ~/.seamless/tls)")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("check", help="create the credentials if there are none, then check them")
    sub.add_parser("renew", help="create a new CA and new certificates (restart running services)")
    sub.add_parser("export", help="print the CA and client certificate and key as JSON (for a client "
                   "fetching them over SSH); creates the credentials on first use")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.action == "renew":
            creds = credentials.renew(args.directory)
            print(f"New TLS credentials in {creds.directory}; services still running use the old "
                  "ones: stop them (seamless-services stop --all) and call set_stage() again", file=sys.stderr)
            return 0
        creds = credentials.ensure(args.directory, role="service")
        credentials.check(creds, "client")
        if args.action == "export":
            # run before the first launch on a frontend: the launcher's state directory (logs,
            # status files) is private before remote-http-launcher creates anything in it
            private_dir(launcher_root())
            json.dump(credentials.export_for_client(creds), sys.stdout)
        else:
            print(f"TLS credentials in {creds.directory}: ok", file=sys.stderr)
        return 0
    except credentials.CredentialError as exc:
        print(f"seamless-credentials: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"seamless-credentials: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
