"""The production recipe, run for real: deploy/'s systemd units (gunicorn, Celery worker and beat) on
PostgreSQL and Redis, and compose.yaml checked against them.

The processes run in the PostgreSQL pass of `make test` (SCREENING_TEST_DATABASE_URL and
SCREENING_TEST_REDIS_URL set); the file checks run in both passes. Every process gets its
configuration from SCREENING_* environment variables only.
"""

import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from .conftest import scratch_database
from .helpers import spare_redis_url

PG_URL = os.environ.get("SCREENING_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SCREENING_TEST_REDIS_URL")
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

pytestmark = pytest.mark.no_isolation
needs_services = pytest.mark.skipif(not (PG_URL and REDIS_URL),
                                    reason="needs SCREENING_TEST_DATABASE_URL and _REDIS_URL")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def production_env(tmp_path_factory):
    with scratch_database(tmp_path_factory, "prod") as database_url:
        env = {
            **os.environ,
            "SCREENING_ENV": "production",
            "SCREENING_SECRET_KEY": secrets.token_hex(32),
            "SCREENING_DATABASE_URL": database_url,
            "SCREENING_REDIS_URL": spare_redis_url(REDIS_URL),
            "TMPDIR": str(tmp_path_factory.mktemp("tmp")),  # whatever the processes leave goes with it
        }
        env.pop("FLASK_DEBUG", None)
        yield env


def _run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([*args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _start(env, *args, log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([*args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@needs_services
def test_production_refuses_to_start_without_a_secret_key(production_env):
    env = {**production_env}
    env.pop("SCREENING_SECRET_KEY")
    proc = _run(env, str(BIN / "screening"), "db", "upgrade")
    assert proc.returncode != 0
    assert "SCREENING_SECRET_KEY is missing" in proc.stdout + proc.stderr


UNITS = ("screening-migrate", "screening-web", "screening-worker", "screening-beat")
COMPOSE_SERVICE = {"screening-migrate": "migrate", "screening-web": "web", "screening-worker": "worker",
                   "screening-beat": "beat"}
INSTALL_DIR = "/opt/screening"  # where the units expect the checkout and its .venv


def read_unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file as {section: {key: [values in order]}} (keys may repeat, ``\\`` continues)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    text = (DEPLOY / "systemd" / f"{name}.service").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"{name}: not a unit line: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def read_environment_file(path: Path) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile= reads them (comments and blank lines skipped)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            env[key.strip()] = value.strip().strip("\"'")
    return env


def exec_start(unit: dict) -> list[str]:
    [command] = unit["Service"]["ExecStart"]
    return shlex.split(command)


def test_the_units_share_one_environment_file_user_and_checkout():
    for name in UNITS:
        service = read_unit(name)["Service"]
        assert service["EnvironmentFile"] == ["/etc/screening/screening.env"], name
        assert service["User"] == ["screening"] and service["WorkingDirectory"] == [INSTALL_DIR], name
        assert exec_start(read_unit(name))[0].startswith(f"{INSTALL_DIR}/.venv/bin/"), name
    assert "-c" in exec_start(read_unit("screening-web"))  # with the shipped gunicorn hooks
    assert "python:screening.operations.gunicorn_config" in exec_start(read_unit("screening-web"))


def test_compose_builds_the_project_and_runs_the_units_commands():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    for name, service in COMPOSE_SERVICE.items():
        app = services[service]
        assert app["build"] == {"context": ".", "dockerfile": "Containerfile"}, service
        assert not app["image"].startswith("docker.io"), service  # our own build, never pulled
        assert _without_bind(app["command"]) == _without_bind(exec_start(read_unit(name))), service
    assert (ROOT / "Containerfile").is_file()


def _without_bind(command: list[str]) -> list[str]:
    """The command with gunicorn's bind address left out: 127.0.0.1 on a host, all interfaces in a container."""
    return [arg for i, arg in enumerate(command) if arg != "--bind" and (i == 0 or command[i - 1] != "--bind")]


@pytest.fixture
def unit_environment(production_env, tmp_path):
    """The shipped EnvironmentFile example with this test's database, Redis and secrets, written to a
    file and read back like systemd does; the units' paths moved below tmp_path."""
    env_file = tmp_path / "screening.env"
    settings = read_environment_file(DEPLOY / "screening.env.example")
    settings.update({key: production_env[key] for key in ("SCREENING_SECRET_KEY", "SCREENING_DATABASE_URL",
                                                          "SCREENING_REDIS_URL")})
    settings.update({"SCREENING_SSO_SECRET_KEY": secrets.token_hex(32),
                     "SCREENING_METRICS_TOKEN": secrets.token_hex(32), "SCREENING_BASE_URL": "https://screening.test"})
    env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    port = _free_port()
    moves = {f"{INSTALL_DIR}/.venv/bin/": f"{BIN}/", "/var/lib/screening": str(tmp_path / "state"),
             "/run/screening": str(tmp_path / "run"), "127.0.0.1:8000": f"127.0.0.1:{port}"}

    def moved(value: str) -> str:
        for old, new in moves.items():
            value = value.replace(old, new)
        return value

    def command_and_env(name: str) -> tuple[list[str], dict[str, str]]:
        service = read_unit(name)["Service"]
        for setting, parent in (("StateDirectory", "/var/lib"), ("RuntimeDirectory", "/run")):
            for folder in service.get(setting, []):  # systemd creates these before ExecStart
                Path(moved(f"{parent}/{folder}")).mkdir(parents=True, exist_ok=True)
        env = {key: value for key, value in production_env.items() if not key.startswith("SCREENING_")}
        for assignment in service.get("Environment", []):  # EnvironmentFile= overrides Environment=
            key, _, value = assignment.partition("=")
            env[key] = value
        env.update(read_environment_file(env_file))
        return [moved(arg) for arg in exec_start(read_unit(name))], {k: moved(v) for k, v in env.items()}

    return command_and_env, port, settings


@needs_services
def test_the_systemd_units_start_pass_readiness_and_the_worker_answers(unit_environment, tmp_path):
    command_and_env, port, settings = unit_environment
    migrate, migrate_env = command_and_env("screening-migrate")  # the deploy step before (re)starting
    migrated = _run(migrate_env, *migrate)
    assert migrated.returncode == 0, migrated.stderr
    processes, logs = [], {}
    for name in UNITS[1:]:
        command, env = command_and_env(name)
        logs[name] = tmp_path / f"{name}.log"
        processes.append(_start(env, *command, log=logs[name]))
    base = f"http://127.0.0.1:{port}"
    try:
        ready = _wait_until_ready(base, deadline=time.monotonic() + 120)
        assert ready is not None and ready.status_code == 200, (
            ready.text if ready is not None else "", logs["screening-web"].read_text(),
            logs["screening-worker"].read_text())
        checks = ready.json()["checks"]
        assert checks["workers"]["ok"] and checks["workers"]["answered"] >= 1 and checks["redis"]["ok"]
        _, worker_env = command_and_env("screening-worker")
        pong = _run(worker_env, str(BIN / "celery"), "-A", "screening.celery_app", "inspect", "ping", "-t", "5")
        assert "pong" in pong.stdout, logs["screening-worker"].read_text()

        login = requests.get(f"{base}/login", timeout=5)
        assert login.status_code == 200
        cookie = login.headers.get("Set-Cookie", "")
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" in login.headers
        metrics = requests.get(f"{base}/metrics", timeout=5,
                               headers={"Authorization": f"Bearer {settings['SCREENING_METRICS_TOKEN']}"})
        assert metrics.status_code == 200 and "screening_http_requests_total" in metrics.text
        assert list((tmp_path / "run" / "prometheus").glob("*.db")), "gunicorn's workers wrote no metric files"
        for name, proc in zip(UNITS[1:], processes, strict=True):
            assert proc.poll() is None, logs[name].read_text()
        assert "beat: Starting" in logs["screening-beat"].read_text()
    finally:
        _stop(*processes)
    assert "Exception" not in logs["screening-web"].read_text(), logs["screening-web"].read_text()


def _wait_until_ready(base: str, deadline: float) -> requests.Response | None:
    answer = None
    while time.monotonic() < deadline:
        try:
            answer = requests.get(f"{base}/health/ready", timeout=10)
            if answer.status_code == 200:
                return answer
        except requests.RequestException:
            pass
        time.sleep(1)
    return answer


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_the_nginx_site_passes_nginx_own_check(tmp_path):
    """`nginx -t` on the shipped site, its certificate and log paths moved to tmp_path."""
    from screening.sso.saml import write_self_signed_pair

    write_self_signed_pair(tmp_path / "key.pem", tmp_path / "cert.pem", common_name="screening.example-university.de")
    site = (DEPLOY / "nginx" / "screening.conf").read_text()
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {tmp_path / 'cert.pem'};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {tmp_path / 'key.pem'};", site)
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    temp_paths = "".join(f"  {kind}_temp_path {tmp_path / kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n{temp_paths}  include {tmp_path / 'site.conf'};\n}}\n")
    check = subprocess.run(["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
