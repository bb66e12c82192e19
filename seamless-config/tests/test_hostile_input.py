"""Hostile names, hosts, paths and YAML: rejected with file, line and command, before any launch.

Names reach remote-http-launcher keys (evaluated as f-strings), directories and command lines;
hosts reach ssh. Every attempt below must end in a ConfigurationError at load time, and nothing
may have been launched (no launcher state, no launch record under the test's HOME).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from seamless_config import ConfigurationError, lifecycle, select
from seamless_config.cluster import parse_cluster
from seamless_config.located_yaml import MAX_FILE_BYTES, load_file

F_STRING_ESCAPE = "{().__class__.__base__.__subclasses__()}"


def _nothing_launched(home: Path) -> None:
    assert not (home / ".remote-http-launcher").exists(), "remote-http-launcher was called"
    assert not list((home / ".seamless").glob("launches/*")), "a service was recorded as launched"


@pytest.mark.parametrize("project", ["..", "../../x", "a b;c", "{7*7}", ".", F_STRING_ESCAPE, "-rf", "a'b", 'a"b'])
def test_hostile_project_rejected_with_line_before_launch(project, project_dir, write_yaml, isolated_home):
    write_yaml(project_dir / "seamless.yaml", f"- cluster: local\n- execution: process\n- project: {project!r}\n")
    with pytest.raises(ConfigurationError) as info:
        lifecycle.set_stage(workdir=project_dir)
    err = info.value
    assert err.command == "project" and err.line == 3 and err.file.endswith("seamless.yaml"), str(err)
    _nothing_launched(isolated_home)


@pytest.mark.parametrize("stage, substage", [(F_STRING_ESCAPE, None), ("ok", F_STRING_ESCAPE), ("a b", None), ("ok", "..")])
def test_hostile_stage_and_substage_rejected_before_launch(stage, substage, project_dir, write_yaml, isolated_home):
    write_yaml(project_dir / "seamless.yaml", "- cluster: local\n- execution: process\n- project: p\n")
    with pytest.raises(ConfigurationError, match="stage name"):
        lifecycle.set_stage(stage, substage, workdir=project_dir)
    _nothing_launched(isolated_home)


@pytest.mark.parametrize("subproject", ["a/../b", "a//b", "/a", "a/{x}", "a/ b"])
def test_hostile_subproject_rejected(subproject):
    with pytest.raises(ConfigurationError, match="subproject name"):
        select.select_subproject(subproject)


def test_plain_names_still_accepted():
    select.select_project("my_project-2.1")
    select.select_subproject("part/sub_2")
    select.select_stage("prod")
    select.select_substage("s1")


@pytest.mark.parametrize(
    "frontend, message",
    [
        ({"hostname": "-oProxyCommand=touch /tmp/pwned"}, "'hostname' must be an RFC 1123 host name"),
        ({"hostname": "login", "ssh_hostname": "a b"}, "'ssh_hostname' must be an RFC 1123"),
        ({"hostname": "login", "ssh_hostname": "alice@login"}, "~/.ssh/config"),
        ({"hostname": "login{7*7}"}, "RFC 1123"),
        ({"hostname": "login", "daskserver": {"network_interface": "0.0.0.0; id"}}, "'network_interface' must be"),
        ({"hostname": "login", "hashserver": {"bufferdir": "/data/x y"}}, "'bufferdir' must be an absolute directory"),
        ({"hostname": "login", "hashserver": {"bufferdir": "/data/../etc"}}, "without '..'"),
        ({"hostname": "login", "database": {"database_dir": "relative/db"}}, "'database_dir' must be an absolute"),
    ],
)
def test_hostile_frontends_rejected(frontend, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace("{", r"\{")):
        parse_cluster("c", {"type": "slurm", "frontends": [frontend]})


def test_valid_hosts_and_paths_accepted():
    cluster = parse_cluster(
        "c",
        {
            "type": "local",
            "frontends": [
                {
                    "hostname": "login-1.hpc.example.org",
                    "ssh_hostname": "10.0.0.1",
                    "hashserver": {"bufferdir": "~/seamless/buffers"},
                    "database": {"database_dir": "/scratch/u@x/db"},
                    "daskserver": {"network_interface": "::"},
                }
            ],
        },
    )
    # '~' is kept: it is the frontend's home, expanded there by remote-http-launcher
    assert cluster.frontends[0].services["hashserver"].bufferdir == "~/seamless/buffers"


@pytest.mark.parametrize(
    "queues, message",
    [
        ({"{7*7}": {}}, "queue name '{7*7}' is not valid"),
        ({"a b": {}}, "queue name 'a b' is not valid"),
        ({"q": {"partition": "x; touch /tmp/p"}}, "'partition' must be letters"),
        ({"q": {"project": "-A other"}}, "'project' must be letters"),
        ({"q": {"job_extra_directives": ["#SBATCH --qos=short"]}}, 'without the "#SBATCH"'),
        ({"q": {"job_extra_directives": ["--qos=short\ntouch /tmp/p"]}}, "one line each"),
    ],
)
def test_hostile_queues_rejected_with_line(queues, message, project_dir, write_yaml, isolated_home):
    import yaml

    text = yaml.safe_dump([{"clusters": {"c": {"type": "local", "queues": queues}}}, {"cluster": "c"}])
    write_yaml(project_dir / "seamless.yaml", text)
    with pytest.raises(ConfigurationError) as info:
        lifecycle.set_stage(workdir=project_dir)
    assert message in str(info.value) and info.value.line is not None, str(info.value)
    _nothing_launched(isolated_home)


def test_hostile_cluster_name_rejected_with_line(project_dir, write_yaml):
    write_yaml(project_dir / "seamless.yaml", "- clusters:\n    'a;b': {type: local}\n")
    with pytest.raises(ConfigurationError, match="cluster name 'a;b' is not valid") as info:
        lifecycle.set_stage(workdir=project_dir)
    assert info.value.line == 2


# --- bounded YAML ------------------------------------------------------------------------------

_BOMB = "- clusters:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)
) + "- project: p\n"

_LOAD_IN_CHILD = """
import resource, sys, time
from seamless_config.located_yaml import load_file
from seamless_config import ConfigurationError
start = time.monotonic()
try:
    load_file(sys.argv[1])
except ConfigurationError as exc:
    print("rejected:", exc)
print("seconds:", time.monotonic() - start)
print("maxrss_kb:", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_alias_bomb_rejected_quickly_and_small(tmp_path):
    """A 10^9-node alias bomb (under 1 KiB) is refused, in a child process whose memory is measured.

    The child gets a 2 s CPU limit (RLIMIT_CPU): a loader that expanded the aliases would be killed.
    """
    path = tmp_path / "seamless.yaml"
    path.write_text(_BOMB)
    assert len(_BOMB) < 1024

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (2, 2))

    result = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_CHILD, str(path)], capture_output=True, text=True, timeout=60, preexec_fn=limit
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert "aliases expand to more than" in lines["rejected"] and str(path) in lines["rejected"]
    assert int(lines["maxrss_kb"]) < 100 * 1024


def test_recursive_alias_is_a_configuration_error(tmp_path):
    path = tmp_path / "clusters.yaml"
    path.write_text("c: &r\n  queues: *r\n")
    with pytest.raises(ConfigurationError, match="recursive alias") as info:
        load_file(path)
    assert info.value.file == str(path)


def test_ordinary_anchors_and_merges_still_work(tmp_path):
    path = tmp_path / "clusters.yaml"
    path.write_text("base: &b {walltime: '01:00:00', cores: 2}\nq: {<<: *b, cores: 4}\nr: *b\n")
    data = load_file(path)
    assert data["q"] == {"walltime": "01:00:00", "cores": 4} and data["r"] == data["base"]


def test_oversized_file_is_refused(tmp_path):
    path = tmp_path / "seamless.yaml"
    path.write_text("- project: p\n" * (MAX_FILE_BYTES // 13 + 10))
    with pytest.raises(ConfigurationError, match="larger than 128 KiB") as info:
        load_file(path)
    assert info.value.file == str(path)


def test_deep_nesting_is_a_configuration_error(tmp_path):
    path = tmp_path / "seamless.yaml"
    path.write_text("- project: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(ConfigurationError) as info:
        load_file(path)
    assert info.value.file == str(path)
