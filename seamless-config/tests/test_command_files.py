"""Command files: discovery, syntax, stage blocks, the priority of `clusters`, errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamless_config import ConfigurationError, select
from seamless_config.command_files import discover, load_config_files


def load(directory: Path, stage: str | None = None):
    select.select_stage(stage)
    return load_config_files(directory)


def test_files_read_in_order_yaml_then_profile(write_yaml, project_dir: Path):
    write_yaml(project_dir / "seamless.yaml", "- project: alpha\n- execution: spawn\n")
    write_yaml(project_dir / "seamless.profile.yaml", "- execution: process\n")
    load(project_dir)
    assert select.get_project() == "alpha"
    assert select.get_execution() == "process"


def test_legacy_override_name_is_read(write_yaml, project_dir: Path):
    write_yaml(project_dir / ".seamless.yaml", "- project: legacy\n")
    load(project_dir)
    assert select.get_project() == "legacy"


def test_no_files_is_fine(write_yaml, project_dir: Path):
    assert load(project_dir) == []
    assert select.get_execution() == "process"


def test_inherit_from_parent_runs_parent_first(write_yaml, tmp_path: Path):
    parent, child = tmp_path / "p", tmp_path / "p" / "c"
    write_yaml(parent / "seamless.yaml", "- project: parentproj\n- execution: spawn\n")
    write_yaml(child / "seamless.yaml", "- inherit_from_parent\n- execution: process\n")
    invocations = load(child)
    assert [i.name for i in invocations] == ["project", "execution", "inherit_from_parent", "execution"]
    assert select.get_project() == "parentproj"
    assert select.get_execution() == "process"


def test_inherit_in_profile_file_also_walks_up(write_yaml, tmp_path: Path):
    parent, child = tmp_path / "p", tmp_path / "p" / "c"
    write_yaml(parent / "seamless.yaml", "- project: fromparent\n")
    write_yaml(child / "seamless.profile.yaml", "- inherit_from_parent: true\n")
    load(child)
    assert select.get_project() == "fromparent"


def test_no_inherit_stops_the_walk(write_yaml, tmp_path: Path):
    parent, child = tmp_path / "p", tmp_path / "p" / "c"
    write_yaml(parent / "seamless.yaml", "- project: fromparent\n")
    write_yaml(child / "seamless.yaml", "- execution: process\n")
    assert [p for p, _ in discover(child)] == [child / "seamless.yaml"]
    load(child)
    assert select.get_project() is None


def test_inherit_inside_stage_block_does_not_walk(write_yaml, tmp_path: Path):
    parent, child = tmp_path / "p", tmp_path / "p" / "c"
    write_yaml(parent / "seamless.yaml", "- project: fromparent\n")
    write_yaml(child / "seamless.yaml", "- stage s:\n    - inherit_from_parent\n")
    load(child, "s")
    assert select.get_project() is None


def test_stage_block_expands_only_for_its_stage(write_yaml, project_dir: Path):
    write_yaml(
        project_dir / "seamless.yaml",
        "- execution: process\n- stage prod:\n    - execution: spawn\n    - stage prod:\n        - project: nested\n",
    )
    load(project_dir)
    assert select.get_execution() == "process" and select.get_project() is None
    load(project_dir, "prod")
    assert select.get_execution() == "spawn" and select.get_project() == "nested"
    load(project_dir, "other")
    assert select.get_execution() == "process"


def test_stage_needs_whitespace(write_yaml, project_dir: Path):
    write_yaml(project_dir / "seamless.yaml", "- stagefoo:\n    - execution: spawn\n")
    with pytest.raises(ConfigurationError, match=r"seamless.yaml:1: .*stage <name>"):
        load(project_dir, "foo")


def test_stage_block_must_hold_a_list(write_yaml, project_dir: Path):
    write_yaml(project_dir / "seamless.yaml", "- project: a\n- stage prod: process\n")
    with pytest.raises(ConfigurationError, match=r"seamless.yaml:2: 'stage prod' must be followed by a YAML list"):
        load(project_dir)


def test_clusters_command_runs_first_even_after_cluster(write_yaml, project_dir: Path):
    write_yaml(
        project_dir / "seamless.yaml",
        "- cluster: mine\n- queue: q\n- clusters:\n    mine:\n      type: local\n      queues:\n        q: {cores: 1}\n",
    )
    load(project_dir)
    assert select.get_selected_cluster() == "mine"
    assert select.get_queue() == "q"


def test_clusters_command_inside_stage_block(write_yaml, project_dir: Path):
    write_yaml(
        project_dir / "seamless.yaml",
        "- stage s:\n    - clusters:\n        staged: {type: local, workers: 3}\n    - cluster: staged\n",
    )
    load(project_dir, "s")
    assert select.get_selected_cluster() == "staged"


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("project: a\n", 1, "expected a YAML list of commands"),
        ("- project: a\n- [1, 2]\n", 2, "strings or single-key mappings"),
        ("- project: a\n- {project: a, cluster: b}\n", 2, "strings or single-key mappings"),
        ("- 3: a\n", 1, "command names must be strings"),
        ("- project: a\n- frobnicate: 1\n", 2, "unknown command 'frobnicate'; valid commands are: .*persistent"),
        ("- persistent: \"yes\"\n", 1, "command 'persistent': expects a boolean"),
        ("- persistent: 1\n", 1, "command 'persistent': expects a boolean"),
        ("- queue: 3\n", 1, "command 'queue': expects a queue name"),
        ("- execution: 3\n", 1, "command 'execution': expects one of: process, spawn, remote"),
        ("- execution: cloud\n", 1, "command 'execution': execution must be one of: process, spawn, remote"),
        ("- remote: [a]\n", 1, "command 'remote': expects null, daskserver or jobserver"),
        ("- remote: hashserver\n", 1, "command 'remote': remote must be one of"),
        ("- cluster: 5\n", 1, "command 'cluster': expects a cluster name or null"),
        ("- cluster: nowhere\n", 1, "command 'cluster': unknown cluster 'nowhere'; defined clusters: local"),
        ("- project: [a]\n", 1, "command 'project': expects a project name"),
        ("- project: a--b\n", 1, "command 'project': project name 'a--b' may not contain '--'"),
        ("- project: a/b\n", 1, "may not contain '/'"),
        ("- project: STAGE-x\n", 1, "may not contain 'STAGE-'"),
        ("- subproject: 4\n", 1, "command 'subproject': expects a subproject name"),
        ("- clusters: [a]\n", 1, "command 'clusters': expects a mapping"),
        ("- queue: q\n", 1, "command 'queue': Cannot select a queue without selecting a cluster first"),
        ("- cluster: local\n- queue: fast\n", 2, "Cluster 'local' has no queue 'fast'; its queues are: default"),
        ("- project: a\n- b: c: d\n", 2, "invalid YAML: mapping values are not allowed"),
    ],
)
def test_errors_name_file_line_and_command(write_yaml, project_dir: Path, text: str, line: int, message: str):
    path = write_yaml(project_dir / "seamless.yaml", text)
    with pytest.raises(ConfigurationError, match=f"{path}:{line}: .*{message}") as info:
        load(project_dir)
    assert info.value.file == str(path) and info.value.line == line


def test_subproject_may_contain_slash(write_yaml, project_dir: Path):
    write_yaml(project_dir / "seamless.yaml", "- project: p\n- subproject: a/b\n")
    load(project_dir)
    assert select.get_subproject() == "a/b"


def test_error_in_parent_file_names_the_parent(write_yaml, tmp_path: Path):
    parent, child = tmp_path / "p", tmp_path / "p" / "c"
    bad = write_yaml(parent / "seamless.yaml", "- project: ok\n- persistent: maybe\n")
    write_yaml(child / "seamless.yaml", "- inherit_from_parent\n")
    with pytest.raises(ConfigurationError, match=f"{bad}:2: command 'persistent'"):
        load(child)


def test_stage_block_names_are_validated(write_yaml, project_dir: Path):
    path = write_yaml(project_dir / "seamless.yaml", "- project: p\n- stage a--b:\n    - execution: spawn\n")
    with pytest.raises(ConfigurationError, match=f"{path}:2: command 'stage a--b': stage name 'a--b' may not contain '--'"):
        load(project_dir)
