"""set_stage / init: mode decision, workdir, initialisation state, messages.

The launcher itself is replaced by a recorder here: this file tests which activation the
selection leads to. The real launches (local, SSH, SLURM) are tested end to end in
test_pure_daskserver*.py and the root tests/.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

import seamless_config
from seamless_config import ConfigurationError, lifecycle, pure_daskserver, select

CLUSTERS = """\
- clusters:
    both: {type: local, frontends: [{daskserver: {}, jobserver: {}}]}
    jobs: {type: local, workers: 2, frontends: [{jobserver: {}}]}
    nothing: {type: local, frontends: [{hashserver: {bufferdir: /tmp/b}}]}
"""


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch):
    """Record pure-Dask activations instead of launching (the real launch is tested elsewhere)."""
    calls: list[str] = []
    state = {"client": None}

    def activate(*, queue=None):
        calls.append("activate")
        state["client"] = f"client-{len(calls)}"
        return state["client"]

    def deactivate():
        calls.append("deactivate")
        state["client"] = None

    monkeypatch.setattr(pure_daskserver, "activate", activate)
    monkeypatch.setattr(pure_daskserver, "deactivate", deactivate)
    monkeypatch.setattr(pure_daskserver, "get_client", lambda: state["client"])
    monkeypatch.setattr(pure_daskserver, "is_healthy", lambda: state["client"] is not None)
    return calls


def profile(project_dir: Path, write_yaml, text: str) -> Path:
    write_yaml(project_dir / "seamless.profile.yaml", CLUSTERS + text)
    return project_dir


def test_no_configuration_is_process_mode(project_dir: Path, launches):
    assert seamless_config.set_stage(workdir=project_dir) is None
    assert lifecycle.is_initialized() and lifecycle.describe_mode() == "process"
    assert launches == ["deactivate"]


def test_pure_dask_mode_returns_the_client(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: local\n- persistent: false\n")
    client = seamless_config.set_stage(workdir=project_dir)
    assert client == "client-2" and launches == ["deactivate", "activate"]
    assert seamless_config.get_dask_client() == "client-2"
    assert select.get_execution() == "remote" and lifecycle.describe_mode() == "pure-dask"


def test_pure_dask_needs_no_project(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: local\n- persistent: false\n")
    seamless_config.set_stage(workdir=project_dir)
    assert select.get_project() is None and "activate" in launches


def test_remote_daskserver_pins_when_both_exist(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: both\n- remote: daskserver\n- persistent: false\n")
    assert seamless_config.set_stage(workdir=project_dir) == "client-2"


def test_both_remotes_without_choice_is_an_error(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: both\n- persistent: false\n")
    with pytest.raises(ConfigurationError, match="has both jobserver and daskserver.*'remote: daskserver'"):
        seamless_config.set_stage(workdir=project_dir)
    assert not lifecycle.is_initialized()


def test_jobserver_only_cluster_cannot_be_pure(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: jobs\n- persistent: false\n")
    with pytest.raises(ConfigurationError, match="Pure Dask mode .* needs a daskserver, but cluster 'jobs' offers only a jobserver"):
        seamless_config.set_stage(workdir=project_dir)
    assert "activate" not in launches and not lifecycle.is_initialized()


def test_cluster_without_remote_service_cannot_be_pure(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: nothing\n- persistent: false\n")
    with pytest.raises(ConfigurationError, match="offers no remote service"):
        seamless_config.set_stage(workdir=project_dir)


@pytest.mark.parametrize(
    "text",
    ["- cluster: local\n", "- cluster: local\n- execution: process\n", "- cluster: jobs\n- remote: jobserver\n"],
)
def test_persistent_modes_say_what_is_missing(project_dir: Path, write_yaml, launches, text, monkeypatch):
    """An installation without seamless_remote's activation gets an error naming it."""
    monkeypatch.setitem(sys.modules, "seamless_remote.activation", None)  # import raises ImportError
    profile(project_dir, write_yaml, text)
    with pytest.raises(ConfigurationError, match=r"seamless_remote.*persistent: false") as info:
        seamless_config.set_stage(workdir=project_dir)
    assert "activate" not in launches and not lifecycle.is_initialized()
    assert info.value.reason.endswith("Installed activators: pure-dask, spawn.")  # entry points


def test_persistent_remote_checks_redundancy_first(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: both\n")
    with pytest.raises(ConfigurationError, match="has both jobserver and daskserver"):
        seamless_config.set_stage(workdir=project_dir)


def test_persistent_false_with_process_activates_nothing(project_dir: Path, write_yaml, launches, caplog):
    profile(project_dir, write_yaml, "- cluster: local\n- execution: process\n- persistent: false\n")
    with caplog.at_level(logging.INFO, logger="seamless_config"):
        assert seamless_config.set_stage(workdir=project_dir) is None
    assert launches == ["deactivate"]
    assert select.get_persistent() is False
    assert "No cluster defined" not in caplog.text


def test_remote_without_cluster_is_an_error(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- execution: remote\n")
    with pytest.raises(ConfigurationError, match="Execution is 'remote' but no cluster was defined"):
        seamless_config.set_stage(workdir=project_dir)


def test_explicit_persistent_true_without_cluster_is_an_error(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- execution: process\n- persistent: true\n")
    with pytest.raises(ConfigurationError, match="Persistence was explicitly enabled"):
        seamless_config.set_stage(workdir=project_dir)


def test_default_notes_are_info_not_noise(project_dir: Path, launches, caplog, capsys):
    with caplog.at_level(logging.INFO, logger="seamless_config"):
        seamless_config.set_stage(workdir=project_dir)
    assert "falling back to 'process'" in caplog.text and "No cluster defined" in caplog.text
    assert all(r.levelno == logging.INFO for r in caplog.records)
    assert capsys.readouterr().out == ""


def test_stage_change_reactivates_and_same_stage_does_not(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: local\n- persistent: false\n")
    first = seamless_config.set_stage("a", workdir=project_dir)
    assert seamless_config.set_stage("a") == first
    assert launches == ["deactivate", "activate"]
    second = seamless_config.set_stage("b")
    assert second != first and launches[2:] == ["deactivate", "activate"]
    seamless_config.set_substage("x")  # a substage alone is no stage change
    assert launches[4:] == [] and select.get_substage() == "x"


def test_stage_block_switches_mode(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: local\n- execution: process\n- persistent: false\n- stage dask:\n    - execution: remote\n")
    assert seamless_config.set_stage(workdir=project_dir) is None
    assert seamless_config.set_stage("dask") == "client-3"
    assert seamless_config.set_stage() is None
    assert launches[-1] == "deactivate"


def test_failed_activation_leaves_uninitialised_and_is_retried(project_dir: Path, write_yaml, launches):
    prof = profile(project_dir, write_yaml, "- cluster: jobs\n- persistent: false\n")
    with pytest.raises(ConfigurationError):
        seamless_config.set_stage(workdir=prof)
    assert not lifecycle.is_initialized()
    write_yaml(project_dir / "seamless.profile.yaml", CLUSTERS + "- cluster: local\n- persistent: false\n")
    assert seamless_config.set_stage() == "client-3"  # same stage, but retried since not initialised
    assert launches == ["deactivate", "deactivate", "activate"]
    assert lifecycle.is_initialized()


def test_init_is_idempotent(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: local\n- persistent: false\n")
    client = seamless_config.init(workdir=project_dir)
    assert seamless_config.init() == client and launches.count("activate") == 1


def test_explicit_workdir_is_honoured_over_earlier_one(tmp_path: Path, write_yaml, launches):
    a, b = tmp_path / "a", tmp_path / "b"
    write_yaml(a / "seamless.yaml", "- project: pa\n")
    write_yaml(b / "seamless.yaml", "- project: pb\n")
    seamless_config.set_stage(workdir=a)
    assert select.get_project() == "pa"
    seamless_config.set_stage("x", workdir=b)
    assert select.get_project() == "pb" and seamless_config.get_workdir() == str(b.resolve())


def test_workdir_inferred_from_calling_file(launches):
    seamless_config.set_stage()
    assert seamless_config.get_workdir() == str(Path(__file__).resolve().parent)


def test_set_workdir_variants(tmp_path: Path, monkeypatch):
    seamless_config.set_workdir(tmp_path)
    assert seamless_config.get_workdir() == str(tmp_path.resolve())
    seamless_config.set_workdir()
    assert seamless_config.get_workdir() == str(Path(__file__).resolve().parent)
    seamless_config.set_workdir(None)
    monkeypatch.chdir(tmp_path)
    assert seamless_config.get_workdir() == str(tmp_path)


def test_manual_selection_survives_set_stage(project_dir: Path, write_yaml, launches):
    profile(project_dir, write_yaml, "- cluster: local\n")
    select.select_persistent(False)
    assert seamless_config.set_stage(workdir=project_dir) == "client-2"


def test_spawn_mode_starts_the_transformer_pool(project_dir: Path, write_yaml, launches):
    transformer = pytest.importorskip("seamless_transformer")
    profile(project_dir, write_yaml, "- clusters:\n    two: {type: local, workers: 2}\n- cluster: two\n- execution: spawn\n- persistent: false\n")
    try:
        seamless_config.set_stage(workdir=project_dir)
        from seamless_transformer.spawn_pool import worker_pids

        assert len(worker_pids()) == 2
        assert launches == ["deactivate"]
    finally:
        transformer.shutdown_workers()


def test_same_stage_with_edited_profile_reactivates(project_dir: Path, write_yaml, launches):
    prof = profile(project_dir, write_yaml, "- cluster: local\n- persistent: false\n")
    assert seamless_config.set_stage(workdir=prof) == "client-2"
    assert seamless_config.set_stage() == "client-2" and launches.count("activate") == 1  # unchanged
    write_yaml(project_dir / "seamless.profile.yaml", CLUSTERS + "- cluster: local\n- execution: process\n- persistent: false\n")
    assert seamless_config.set_stage() is None  # same stage, but now process mode: client closed
    assert launches[-1] == "deactivate" and seamless_config.get_dask_client() is None


def test_same_stage_relaunches_when_scheduler_is_gone(project_dir: Path, write_yaml, launches, monkeypatch):
    prof = profile(project_dir, write_yaml, "- cluster: local\n- persistent: false\n")
    seamless_config.set_stage(workdir=prof)
    monkeypatch.setattr(pure_daskserver, "is_healthy", lambda: False)  # the real check is tested end to end
    assert seamless_config.set_stage() == "client-4"
    assert launches == ["deactivate", "activate", "deactivate", "activate"]


def test_stage_block_selection_ends_with_the_stage(project_dir: Path, write_yaml, launches):
    """A cluster chosen inside a stage block is not kept for other stages (command-sourced)."""
    profile(project_dir, write_yaml, "- stage a:\n    - cluster: local\n    - persistent: false\n    - project: pa\n")
    assert seamless_config.set_stage("a", workdir=project_dir) == "client-2"
    assert seamless_config.set_stage("b") is None
    assert select.get_selected_cluster() is None and select.get_project() is None
    assert lifecycle.describe_mode() == "process"


def test_manual_cluster_survives_reload(project_dir: Path, write_yaml, launches):
    select.select_cluster("local")
    select.select_persistent(False)
    profile(project_dir, write_yaml, "- execution: remote\n")
    assert seamless_config.set_stage(workdir=project_dir) == "client-2"
    assert select.get_selected_cluster() == "local"


def test_errors_after_loading_point_at_the_command(project_dir: Path, write_yaml, launches):
    path = profile(project_dir, write_yaml, "- cluster: both\n- persistent: false\n") / "seamless.profile.yaml"
    with pytest.raises(ConfigurationError, match=f"{path}:5: command 'cluster': Cluster 'both' frontend") as info:
        seamless_config.set_stage(workdir=project_dir)
    assert info.value.line == 5
    write_yaml(path, "- execution: process\n- persistent: true\n")
    with pytest.raises(ConfigurationError, match=f"{path}:2: command 'persistent': Persistence was explicitly enabled"):
        seamless_config.set_stage()


def test_set_default_switches_the_stage_that_module_functions_act_on():
    """Like distributed's default client: select.* and set_stage() act on the default Stage."""
    original = lifecycle.default_stage()
    stage = lifecycle.Stage()
    lifecycle.set_default(stage)
    try:
        select.select_execution("spawn")
        assert lifecycle.default_stage() is stage
        assert stage.selection.get_execution() == "spawn"
        assert original.selection.get_execution() == "process"
    finally:
        lifecycle.set_default(original)
    assert select.get_execution() == "process"
