"""What another local user tries against the services of the owner (run as uid 65534).

Usage: attacker.py REPORT.json --ports P [P ...] --dask ADDRESS [ADDRESS ...] --files F [F ...] [--drop]

Imports first, then (with ``--drop``) becomes uid/gid 65534 itself, for a Python that user cannot
start on their own; the tests prefer ``setpriv --reuid=65534 ...`` running this file. Writes a JSON
report: every HTTP(S) answer 200 that carries data, every Dask connection that succeeded, every
file it could open, every directory it could list. A Dask address (scheduler, worker or nanny,
``host:port``) is tried as a plain ``tcp://`` and as a ``tls://`` peer with a certificate of its
own, with the ``identity`` request every Dask server answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

import distributed

PATHS = ("/", "/healthcheck", "/health", "/info/main/workers.html", "/json/identity.json", "/metrics",
         "/status", "/profile", "/system", "/sitemap.json")
BARE_HEALTH = {b"OK", b"ok", b'"OK"'}
#: distributed's list of a server's routes, when its only route is the health answer: no data
HEALTH_ONLY_ROUTES = {"/health", "/healthcheck", "/sitemap.json"}


def carries_data(body: bytes) -> bool:
    if body.strip() in BARE_HEALTH:
        return False
    try:
        paths = json.loads(body)["paths"]
    except (ValueError, KeyError, TypeError):
        return True
    return not set(paths) <= HEALTH_ONLY_ROUTES


def http_answers(port: int) -> list[str]:
    found = []
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    for scheme in ("http", "https"):
        for path in PATHS:
            try:
                with urllib.request.urlopen(
                    f"{scheme}://127.0.0.1:{port}{path}", timeout=5,
                    context=insecure if scheme == "https" else None,
                ) as response:
                    body = response.read(2000)
                    if response.status == 200 and carries_data(body):
                        found.append(f"{scheme}://127.0.0.1:{port}{path} -> 200 {body[:60]!r}")
            except (urllib.error.URLError, OSError, ssl.SSLError, ValueError):
                pass
            except Exception as exc:  # http.client.BadStatusLine and the like: no answer
                if type(exc).__module__ != "http.client":
                    raise
    return found


def dask_connections(address: str) -> list[str]:
    """Ask the Dask server at ``host:port`` who it is, as a stranger; what answered."""
    from distributed.comm import connect

    async def identity(url: str, security: distributed.Security | None) -> object:
        args = security.get_connection_args("client") if security is not None else {}
        comm = await connect(url, timeout=5, **args)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), 5)
        finally:
            comm.abort()

    found = []
    for scheme, security in (("tcp", None), ("tls", distributed.Security.temporary())):
        try:
            answer = asyncio.run(identity(f"{scheme}://{address}", security))
        except Exception:  # refused, reset, TLS failure: what we want
            continue
        found.append(f"{scheme}://{address} answered: {str(answer)[:80]}")
    return found


def opened(files: list[str]) -> list[str]:
    found = []
    for name in files:
        if os.path.isdir(name):
            try:
                os.listdir(name)
                found.append(name + "/ (listed)")
            except OSError:
                pass
            continue
        try:
            with open(name, "rb") as handle:
                handle.read(1)
            found.append(name)
        except OSError:
            pass
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--ports", nargs="*", type=int, default=[])
    parser.add_argument("--dask", nargs="*", default=[])
    parser.add_argument("--files", nargs="*", default=[])
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()
    report_fd = os.open(args.report, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    if args.drop:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    report = {
        "uid": os.getuid(),
        "http": [a for p in args.ports for a in http_answers(p)],
        "dask": [c for p in args.dask for c in dask_connections(p)],
        "files": opened(args.files),
    }
    os.write(report_fd, json.dumps(report).encode())
    os.close(report_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
