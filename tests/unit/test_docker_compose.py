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
    # `$${X}` is the container's own variable; `${X:-default}` needs no entry.
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)\}", (ROOT / "docker-compose.yml").read_text()))
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


def _executor_default() -> str:
    executor = COMPOSE["x-airflow"]["environment"]["AIRFLOW__CORE__EXECUTOR"]
    match = re.fullmatch(r"\$\{AIRFLOW_EXECUTOR:-(\w+)\}", executor)
    assert match, f"the executor must be chosen by AIRFLOW_EXECUTOR, got {executor!r}"
    return match.group(1)


def test_local_executor_is_the_default_and_needs_no_celery_service():
    assert _executor_default() == "LocalExecutor"
    default_services = {name for name, service in SERVICES.items() if not service.get("profiles")}
    assert not {"redis", "airflow-worker", "airflow-flower"} & default_services
    for name in default_services:
        for needed, condition in (SERVICES[name].get("depends_on") or {}).items():
            if needed in SERVICES and SERVICES[needed].get("profiles"):
                assert condition.get("required") is False, f"{name} cannot start without {needed}"


def test_celery_executor_has_a_broker_scalable_workers_and_flower_behind_profiles():
    from airflow.cli.cli_parser import get_parser

    assert SERVICES["redis"]["profiles"] == ["celery"]
    worker = SERVICES["airflow-worker"]
    assert worker["profiles"] == ["celery"]
    assert "container_name" not in worker and "ports" not in worker, "workers must scale"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert SERVICES["airflow-flower"]["profiles"] == ["flower"]
    environment = COMPOSE["x-airflow"]["environment"]
    assert environment["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert "@airflow-metadata:" in environment["AIRFLOW__CELERY__RESULT_BACKEND"]
    celery = get_parser()._subparsers._group_actions[0].choices["celery"]
    celery_commands = celery._subparsers._group_actions[0].choices
    for service in ("airflow-worker", "airflow-flower"):
        command = SERVICES[service]["command"]
        assert command[:2] == ["airflow", "celery"] and command[2] in celery_commands
