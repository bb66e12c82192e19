"""seamless_config.pure_daskserver without launching (the real launches are in tests/test_pure_dask.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import seamless_config
from seamless_config import ConfigurationError, pure_daskserver


def test_a_stage_of_its_own_launches_nothing(project_dir, isolated_home):
    """A test makes its own Stage with its own activators (no switch in production code): the
    mode goes to them, nothing is launched and the default stage stays as it was."""
    from seamless_config import lifecycle, select

    calls = []

    class Recorder:
        def activate(self, *, mode, cluster):
            calls.append(("activate", mode, cluster))

        def deactivate(self):
            calls.append(("deactivate",))

    (project_dir / "seamless.profile.yaml").write_text("- cluster: local\n- persistent: false\n")
    stage = lifecycle.Stage(activators={"pure-dask": Recorder()})
    assert stage.set_stage(workdir=project_dir) is None
    assert calls == [("deactivate",), ("activate", "pure-dask", "local")]
    assert stage.initialized and stage.selection.get_selected_cluster() == "local"
    assert not lifecycle.is_initialized() and select.get_selected_cluster() is None
    assert not pure_daskserver.is_active() and pure_daskserver.get_client() is None
    assert not (isolated_home / ".remote-http-launcher").exists()
    assert not (isolated_home / ".seamless" / "locks").exists()
    stage.reset()
    assert calls[-1] == ("deactivate",) and not stage.initialized


def test_no_cluster_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="No cluster defined"):
        pure_daskserver.activate()
    assert not pure_daskserver.is_active()


def test_deactivate_without_client_is_a_no_op():
    pure_daskserver.deactivate()
    assert pure_daskserver.get_client() is None and not pure_daskserver.is_active()


def test_modules_import_only_the_stdlib():
    """The transformer guard looks this module up; importing it must stay cheap."""
    code = (
        "import sys; before = set(sys.modules); "
        "import seamless_config.pure_daskserver, seamless_config.launching; "
        "new = sorted(m.split('.')[0] for m in set(sys.modules) - before); "
        "print(' '.join(sorted(set(new))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    # seamless_service: the stdlib-only package below every other (test_service_is_stdlib_only)
    assert set(out) - sys.stdlib_module_names <= {"seamless_config", "seamless_service"}, out


def test_failed_activation_leaves_module_not_initialised(project_dir, isolated_home):
    """A login node that refuses SSH (127.0.0.2:22, nothing listens there): the error says so."""
    from seamless_config import lifecycle
    from seamless_config.launching import LaunchError

    (project_dir / "seamless.profile.yaml").write_text(
        "- clusters:\n    nohost:\n      type: slurm\n      frontends:\n        - hostname: loginnode\n"
        "          ssh_hostname: 127.0.0.2\n          daskserver: {}\n      queues:\n        q: {walltime: '01:00:00', cores: 1, memory: 1GB}\n"
        "- cluster: nohost\n- persistent: false\n"
    )
    with pytest.raises(LaunchError) as info:
        seamless_config.set_stage(workdir=project_dir)
    assert "127.0.0.2" in str(info.value) and "refused" in str(info.value)
    assert not lifecycle.is_initialized() and not pure_daskserver.is_active()
