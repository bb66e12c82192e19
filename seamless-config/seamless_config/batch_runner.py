"""remote-http-launcher's helpers for one launch, run in ONE interpreter on the frontend.

Not imported by Seamless: :mod:`.ssh_batching` sends this file's source to the frontend, where
its batch script runs it with the interpreter of the frontend's own ``rhl-inspect`` (read from its
``#!`` line). Each helper (``rhl-inspect``, ``rhl-launch-service``, ``rhl-verify-port``,
``rhl-handshake``) is the frontend's own: its ``main`` (the module named in its console script)
is called with the argv the command would get, its output and exit status captured as the
command's; each is loaded when first needed (the port check's and the handshake's while the
service starts), and one whose ``main`` does not load runs as its command. The service that
``rhl-launch-service``'s ``main`` starts is this interpreter's child: reaped while its start is
waited for (a zombie would look alive to ``kill -0``), left to init when this interpreter exits,
as when the command exits. The results are printed as the script's ``run`` prints them, so the
client parses them alike; each helper interpreter saved is ~0.1-0.3 s on a busy login node, the
launch's on the critical path.

Exit status 3 with nothing printed: ``rhl-inspect`` could not be loaded here (the script then
runs the commands). Stdlib only, Python 3.6+ syntax: it runs on whatever the frontend has.
"""

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

#: Loaded first: where its ``main`` does not load, nothing runs here (exit 3).
FIRST = "rhl-inspect"
LAUNCHER = "rhl-launch-service"
#: Loaded when first needed (the port check's and the handshake's while the service starts); each
#: runs as its command where its ``main`` does not load (e.g. another launcher version).
LATER = (LAUNCHER, "rhl-verify-port", "rhl-handshake")
#: Seconds between the looks at a starting service's status file.
POLL_SECONDS = 0.02


def helper_main(name):
    """The ``main`` of helper ``name`` (from the ``from MODULE import main`` of its script)."""
    with open(shutil.which(name)) as handle:
        match = re.search(r"^from (\S+) import main$", handle.read(), re.M)
    return __import__(match.group(1), fromlist=["main"]).main


def emit(sep, label, argv, code, out, err):
    sys.stdout.write("%s\n%s\n%s\n%s %s %d %s\n" % (out, sep, err, sep, label, code, " ".join(argv)))
    sys.stdout.flush()


def load(mains, name):
    """Add helper ``name``'s ``main`` to ``mains`` (None when it does not load here)."""
    if name not in mains:
        try:
            mains[name] = helper_main(name)
        except Exception:  # its command, then
            mains[name] = None


def run_helper(mains, argv):
    """Run helper ``argv[0]``: (exit status, stdout, stderr) as the command's."""
    main = mains.get(argv[0])
    return call(main, argv) if main is not None else command(argv)


def call(main, argv):
    """Run a helper's ``main`` in this process with ``argv``: (exit status, stdout, stderr) as the
    command's. (A service that ``rhl-launch-service``'s starts is this process's child.)"""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = list(argv)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                result = main()
                code = 0 if result is None else int(result)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if not isinstance(exc.code, (int, type(None))):
                    print(exc.code, file=sys.stderr)
            except Exception as exc:  # a helper's crash is its exit status 1, as for the command
                print("%s: %s" % (type(exc).__name__, exc), file=sys.stderr)
                code = 1
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue()


def command(argv):
    """Run a helper as its command (output to files: a service that ``rhl-launch-service``
    starts may keep them open)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        code = subprocess.call(argv, stdout=out, stderr=err)
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def alive(pid):
    """As the shell's ``kill -0`` (this file runs alone on the frontend: no Seamless import); a
    child of this interpreter (the service, launched here) that ended is reaped and not alive."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:  # not a child of this interpreter (or reaped already)
        pass
    try:
        os.kill(pid, 0)
        return True
    except PermissionError:  # another user's process: it exists
        return True
    except OSError:
        return False


def wait_started(mains, key, status_file, seconds):
    """Wait (up to ``seconds``) while the service's state says "starting" and its process lives,
    looking every :data:`POLL_SECONDS`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if status_file:
            try:
                with open(os.path.expanduser(status_file)) as handle:
                    text = handle.read()
            except OSError:
                return
        else:
            code, text, _ = run_helper(mains, [FIRST, key])
            if code != 0:
                return
        try:
            state = json.loads(text)
        except ValueError:
            return
        pid = state.get("pid")
        if state.get("status") != "starting" or (isinstance(pid, int) and not alive(pid)):
            return
        time.sleep(POLL_SECONDS)


def main():
    sep, plan = sys.argv[1], json.loads(sys.argv[2])
    try:
        mains = {FIRST: helper_main(FIRST)}
    except Exception:
        return 3
    key = plan["key"]

    def run(label, argv):
        load(mains, argv[0])
        code, out, err = run_helper(mains, argv)
        emit(sep, label, argv, code, out, err)
        return code, out, err

    code, state, err = run("first", [FIRST, key])
    if plan["launch"] is not None and code == 1 and "no state file" in err:
        if run("launch", plan["launch"])[0] != 0:
            return 0
        for name in LATER:  # while the service starts
            load(mains, name)
        wait_started(mains, key, plan["status_file"], plan["wait_seconds"])
        code, state, _ = run("state", [FIRST, key])
    if plan["check"] is None or code != 0:
        return 0
    default_host, port_field, before, after = plan["check"]
    data = json.loads(state)
    if data.get("status") != "running":
        return 0
    host = data.get("network_interface") or default_host
    if run("verify", ["rhl-verify-port", str(host), str(data.get("port"))])[0] == 0 and port_field:
        run("handshake", ["rhl-handshake", "%s%s:%s%s" % (before, host, data.get(port_field), after)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
