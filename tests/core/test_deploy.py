"""deploy/haproxy.cfg is a configuration HAProxy accepts, with the replicas' addresses taken
from the environment as `make chaos` gives them."""

import shutil
import subprocess

import pytest

from tests.support.processes import PROJECT_ROOT, child_environment


def test_the_haproxy_configuration_is_valid():
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("HAProxy is not installed (make chaos installs it)")
    environment = child_environment(APP1_ADDR="127.0.0.1:18001", APP2_ADDR="127.0.0.1:18002")

    checked = subprocess.run(  # noqa: S603
        [haproxy, "-c", "-f", str(PROJECT_ROOT / "deploy/haproxy.cfg")],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration file is valid" in checked.stdout
