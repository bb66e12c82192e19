"""Interactive use: Jupyter notebooks on a real IPython kernel, and code that has no source file.

The notebooks run in real kernels (ipykernel through nbclient), with an isolated HOME, from a
project directory and no script file, as a user's notebook does. The persistent one starts a real
hashserver and database on the embedded ``local`` cluster; a second kernel gets the result from
them without computing. The pure-Dask one starts a real Dask scheduler. Every server is stopped
by PID at the end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import persistent_services as ps

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

SETUP = "import seamless_config\nseamless_config.set_stage()   # no script file: the kernel's directory"
DEFINE = """\
from seamless_transformer import delayed

@delayed
def sum_of_squares(n, trace):
    import os
    with open(trace, "a") as handle:   # one line per real execution
        handle.write(f"{os.getpid()}\\n")
    return sum(i * i for i in range(n))
"""


def run_notebook(cells: list[str], directory: Path) -> list:
    """Run ``cells`` in a fresh kernel started in ``directory``; return the executed cells."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(directory)}}
    )
    client.execute()
    return notebook.cells


def text_output(cell) -> str:
    return "".join(
        o.get("text", "") if o["output_type"] == "stream" else o.get("data", {}).get("text/plain", "")
        for o in cell.outputs if o["output_type"] in ("stream", "execute_result")
        and o.get("name", "stdout") == "stdout"
    )


@pytest.mark.servers
def test_transformation_defined_in_a_cell_is_persistent_across_kernels(tmp_path: Path, isolated_home: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "seamless.profile.yaml").write_text("- project: notebook\n- cluster: local\n- execution: process\n")
    trace = tmp_path / "executions.txt"
    cells = [SETUP, DEFINE, f"sum_of_squares(100_000, {str(trace)!r}).run()"]
    try:
        first = run_notebook(cells, project)
        assert text_output(first[2]).strip() == str(sum(i * i for i in range(100_000)))
        assert len(trace.read_text().splitlines()) == 1
        assert {"hashserver-local-rw-notebook", "database-local-rw-notebook"} <= set(ps.launched_servers(isolated_home))

        second = run_notebook(cells, project)  # another kernel: another process, another cell file name
        assert text_output(second[2]) == text_output(first[2])
        assert len(trace.read_text().splitlines()) == 1, "the second kernel computed it again"
    finally:
        ps.stop_servers(isolated_home)


def test_pure_dask_notebook_client_works(tmp_path: Path, isolated_home: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "seamless.profile.yaml").write_text(
        "- clusters:\n    nb: {type: local, workers: 1}\n- cluster: nb\n- persistent: false\n"
    )
    cells = [
        "import seamless_config\nclient = seamless_config.set_stage()\nclient",
        "client.submit(sum, [1, 2, 3]).result()",
        "import dask.array as da\nfloat(da.ones(1000, chunks=100).sum().compute())",
        DEFINE + "try:\n    sum_of_squares(10, 'unused')\nexcept Exception as exc:\n    print(type(exc).__name__, exc)",
    ]
    try:
        done = run_notebook(cells, project)
        display = done[0].outputs[-1]["data"]
        assert "Client" in display["text/plain"] and "text/html" in display  # the client shows itself
        assert text_output(done[1]).strip() == "6"
        assert text_output(done[2]).strip() == "1000.0"
        refused = text_output(done[3])
        assert refused.startswith("TransformationError") and "pure Dask mode" in refused
    finally:
        ps.stop_servers(isolated_home)


DOUBLE = """\
from seamless_transformer import delayed

@delayed
def double(x):
    return 2 * x

print(double(21).run(), double.code.checksum)
"""


def test_python_c_works_with_the_identity_of_the_same_code_in_a_file(tmp_path: Path, isolated_home: Path):
    """``python -c``: the function's text comes from the command line, checked against its bytecode."""
    env = ps.user_env(isolated_home)
    from_c = subprocess.run([sys.executable, "-c", DOUBLE], capture_output=True, text=True, timeout=60, env=env)
    assert from_c.returncode == 0, from_c.stderr
    script = tmp_path / "double.py"
    script.write_text(DOUBLE)
    from_file = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert from_c.stdout.startswith("42 ") and from_c.stdout == from_file.stdout  # same value, same checksum


EXEC_IMPOSTOR = """\
def double(x):
    return 2 * x
from seamless_transformer import delayed
namespace = {}
exec("def double(x):\\n    return 3 * x\\n", namespace)   # same name, same line, other code
try:
    delayed(namespace["double"])
except Exception as exc:
    print(exc)
"""

NO_SOURCE = """\
from seamless_transformer import delayed

def double(x):
    return 2 * x

try:
    delayed(double)
except Exception as exc:
    print(exc)
"""


@pytest.mark.parametrize("how", ["exec in python -c", "stdin"])
def test_no_source_says_why_and_what_to_do(how: str, isolated_home: Path):
    if how == "stdin":
        argv, stdin, why = [sys.executable, "-"], NO_SOURCE, "read from standard input"
    else:
        argv, stdin, why = [sys.executable, "-c", EXEC_IMPOSTOR], None, "defined by exec()"
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, env=ps.user_env(isolated_home))
    assert done.returncode == 0, done.stderr
    message = done.stdout
    assert "The source of double is not available" in message and why in message
    assert ".py file" in message and "Jupyter/IPython cell" in message
