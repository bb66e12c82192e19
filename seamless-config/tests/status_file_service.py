"""A minimal service that speaks remote-http-launcher's status-file protocol (test helper).

``status_file_service.py --status-file F --port-range S E --host H --timeout T [--fail MSG]
[--crash MSG] [--delay S] [--log-requests]`` waits for F (RHL writes it after spawning), serves ``GET /health`` on the first
free port of the range, writes ``status: running`` with ``port`` and ``dashboard_port`` (the
same port), and exits after T idle seconds or on SIGINT/SIGTERM. ``--fail MSG`` prints MSG and
writes ``status: failed`` (the fast failure path); ``--crash MSG`` prints MSG and exits at once
without touching F (the slow path RHL only notices after ~10 s). Launched by the launching tests
through RHL with ``RHL_TOOLS_YAML`` whitelisting this file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--status-file", required=True)
    parser.add_argument("--port-range", type=int, nargs=2, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--fail")
    parser.add_argument("--crash")
    parser.add_argument("--delay", type=float, default=0, help="seconds to wait before serving")
    parser.add_argument("--log-requests", action="store_true", help="print a line per request (to the log)")
    args = parser.parse_args()
    if args.crash:
        print(args.crash, flush=True)
        return 3
    for _ in range(200):
        if os.path.exists(args.status_file):
            break
        time.sleep(0.05)
    with open(args.status_file) as handle:
        status = json.load(handle)
    if args.fail:
        print(args.fail, flush=True)
        status.update(status="failed", reason=args.fail)
        _write(args.status_file, status)
        return 1
    time.sleep(args.delay)
    last_use = [time.monotonic()]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            last_use[0] = time.monotonic()
            body = json.dumps({"ok": True, "parameters": status.get("parameters")}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *a) -> None:
            if args.log_requests:
                print(f"request: {format % a}", flush=True)

    server = None
    for port in range(args.port_range[0], args.port_range[1] + 1):
        try:
            server = ThreadingHTTPServer((args.host, port), Handler)
            break
        except OSError:
            continue
    if server is None:
        print("no free port in range", flush=True)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=server.shutdown).start())

    def idle_watch() -> None:
        while time.monotonic() - last_use[0] < args.timeout:
            time.sleep(0.2)
        server.shutdown()

    threading.Thread(target=idle_watch, daemon=True).start()
    status.update(status="running", port=port, dashboard_port=port)
    _write(args.status_file, status)
    print(f"serving on {args.host}:{port}", flush=True)
    server.serve_forever()
    return 0


def _write(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
