"""docker-compose.yml cannot run here (no Docker engine), so it is checked by reading it: valid,
complete, and naming only paths and commands that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_stack_has_warehouse_and_airflow_services():
    assert {"warehouse", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "airflow-init"} <= set(SERVICES)


def test_every_bind_mount_exists_in_the_repo():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("."):
                assert (ROOT / host).exists(), f"{name} mounts missing path {host}"


def test_build_context_has_a_dockerfile_that_copies_existing_paths():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY"):
            sources = [t for t in line.split()[1:-1] if not t.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_secrets_come_from_an_uncommitted_env_file_with_a_committed_example():
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    example = (ROOT / ".env.example").read_text()
    defined = set(re.findall(r"^([A-Z_]+)=", example, flags=re.M))
    used = set(re.findall(r"\$\{([A-Z_]+)\}", (ROOT / "docker-compose.yml").read_text()))
    assert used <= defined, f"variables without an example: {used - defined}"
    assert "password" not in yaml.safe_dump(COMPOSE).lower().replace("_password", "")


def test_scripts_it_runs_exist():
    init = SERVICES["airflow-init"]["command"]
    script = init[-1].replace("/opt/onetoone/", "")
    assert (ROOT / script).exists()


@pytest.mark.parametrize("service", ["airflow-apiserver", "airflow-scheduler",
                                     "airflow-dag-processor", "airflow-triggerer"])
def test_airflow_commands_are_real_subcommands(service):
    from airflow.cli.cli_parser import get_parser

    command = SERVICES[service]["command"]
    assert command[0] == "airflow"
    subcommands = get_parser()._subparsers._group_actions[0].choices
    assert command[1] in subcommands
