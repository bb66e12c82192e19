"""Transformer functions shared by the test_transformation_backend* modules.

Their source text is what runs on the Dask workers. Tests are not a package
(``--import-mode=importlib``), so the test modules load this file by path (``runpy.run_path``).
"""

from __future__ import annotations

import seamless_transformer as st


@st.delayed
def add(a, b, log=None):
    import os
    import uuid

    if log is not None:
        open(os.path.join(log, f"add-{uuid.uuid4().hex}"), "w").close()
    return a + b


@st.delayed
def whoami(tag):
    import os

    return {"tag": tag, "pid": os.getpid()}


@st.delayed
def divide(a, b):
    quotient = a / b
    return quotient


@st.delayed
def slow_once(folder, seconds):
    import os
    import time
    import uuid

    open(os.path.join(folder, f"run-{uuid.uuid4().hex}"), "w").close()
    time.sleep(seconds)
    return "computed"


@st.delayed
def total_length(data, salt):
    return len(data) + salt


@st.delayed
def occupy(tag, folder, seconds):
    """Return how many transformations were running alongside this one (itself included)."""
    import os
    import time

    mine = os.path.join(folder, f"running-{tag}")
    open(mine, "w").close()
    time.sleep(seconds)
    peers = len([n for n in os.listdir(folder) if n.startswith("running-")])
    os.remove(mine)
    return peers


@st.delayed
def read_file(path):
    with open(path) as f:
        return f.read()
