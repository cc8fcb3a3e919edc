"""docker-compose.yml and the worker Dockerfile, checked statically (no Docker engine needed).

Ports are cross-checked against the worker's settings defaults, the Prometheus scrape targets,
the Grafana datasources and the configs mounted into each service.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .promql import PROMETHEUS_DIR, REPO_ROOT, load_yaml

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

# The worker's settings defaults (product spec; cross-checked with worker.settings below).
LIVEKIT_URL_DEFAULT = "ws://localhost:7880"
HEALTH_PORT = 8081
METRICS_PORT = 9464
OTLP_ENDPOINT_DEFAULT = "http://localhost:4318"  # http/protobuf

COLLECTOR_OTLP_GRPC = 4317
COLLECTOR_OTLP_HTTP = 4318
COLLECTOR_METRICS = 8888
COLLECTOR_HEALTH = 13133
TEMPO_HTTP = 3200
PROMETHEUS_HTTP = 9090
GRAFANA_HTTP = 3000

#: Image repository -> tag pattern it must be pinned to.
EXPECTED_IMAGES = {
    "livekit/livekit-server": r"v1\.13\.5",
    "otel/opentelemetry-collector-contrib": r"0\.161\.0",
    "prom/prometheus": r"v3\.\d+\.\d+",
    "grafana/tempo": r"\d+\.\d+\.\d+",
    "grafana/grafana": r"\d+\.\d+\.\d+",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def split_image(image: str) -> tuple[str, str]:
    """``repo[:tag]`` -> (repo, tag); the tag is "" when absent. Digests are not used here."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, ""
    return name, tag


def published_ports(service: dict[str, Any]) -> dict[int, str]:
    """Container port -> host address for the service's published ports."""
    result = {}
    for spec in service.get("ports", []):
        parts = str(spec).split("/")[0].split(":")
        assert len(parts) == 3, f"publish on an explicit host address: {spec}"
        host_ip, host_port, container_port = parts
        assert host_port == container_port, spec
        result[int(container_port)] = host_ip
    return result


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source for the service's volumes."""
    result = {}
    for spec in service.get("volumes", []):
        parts = str(spec).split(":")
        result[parts[1]] = parts[0]
    return result


# ---------------------------------------------------------------------------------- images


def test_the_stack_services(services: dict[str, dict[str, Any]]) -> None:
    expected = {"livekit", "otel-collector", "tempo", "prometheus", "grafana", "worker"}
    assert set(services) == expected


def test_every_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    seen = set()
    for name, service in services.items():
        if "build" in service and "image" not in service:
            continue
        repo, tag = split_image(service["image"])
        assert tag, f"{name}: image {service['image']} has no tag"
        assert tag != "latest", f"{name}: image pinned to latest"
        if "build" not in service:
            assert repo in EXPECTED_IMAGES, f"{name}: unexpected image {repo}"
            assert re.fullmatch(EXPECTED_IMAGES[repo], tag), f"{name}: {service['image']}"
            seen.add(repo)
    assert seen == set(EXPECTED_IMAGES)


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check, f"{name}: no healthcheck"
        assert not check.get("disable", False), name
        test = check["test"]
        assert isinstance(test, list), name
        assert test[0] in ("CMD", "CMD-SHELL"), name
        assert len(test) > 1, name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"


def test_dependencies_wait_for_healthy_services(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        "otel-collector": {"tempo"},
        "grafana": {"prometheus", "tempo"},
        "worker": {"livekit", "otel-collector"},
    }
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs the long form"
        assert set(depends) == expected.get(name, set()), name
        for dependency, spec in depends.items():
            assert dependency in services, f"{name} -> {dependency}"
            assert spec == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert "healthcheck" in services[dependency]
            assert "profiles" not in services[dependency], "a dependency behind a profile"


# ---------------------------------------------------------------------------------- mounts


def test_every_mounted_host_path_exists(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    named = set(compose.get("volumes") or {})
    for name, service in services.items():
        for target, source in mounts(service).items():
            assert target.startswith("/"), f"{name}: {target}"
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name}: {source} missing"
                assert not Path(source).is_absolute()
            else:
                assert source in named, f"{name}: undeclared volume {source}"


def test_no_machine_specific_paths(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for source in mounts(service).values():
            assert not source.startswith(("/", "~")), f"{name}: absolute host path {source}"


def test_config_mounts_land_where_each_service_reads_them(
    services: dict[str, dict[str, Any]],
) -> None:
    livekit = services["livekit"]
    assert mounts(livekit)["/etc/livekit/livekit.yaml"] == "./deploy/livekit/livekit.yaml"
    assert "/etc/livekit/livekit.yaml" in livekit["command"]

    collector = services["otel-collector"]
    config = mounts(collector)
    assert config["/etc/otelcol-contrib/config.yaml"] == "./deploy/collector/config.yaml"
    assert "--config=/etc/otelcol-contrib/config.yaml" in collector["command"]

    tempo = services["tempo"]
    assert mounts(tempo)["/etc/tempo/tempo.yaml"] == "./deploy/tempo/tempo.yaml"
    assert "-config.file=/etc/tempo/tempo.yaml" in tempo["command"]

    prometheus = services["prometheus"]
    assert mounts(prometheus)["/etc/prometheus"] == "./deploy/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]

    grafana = mounts(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    assert grafana["/var/lib/grafana/dashboards"] == "./dashboards"


def test_dev_stack_files_start_with_a_purpose_comment() -> None:
    files = [
        COMPOSE_FILE,
        DOCKERFILE,
        DOCKERIGNORE,
        REPO_ROOT / "deploy" / "livekit" / "livekit.yaml",
        REPO_ROOT / "deploy" / "tempo" / "tempo.yaml",
        PROMETHEUS_DIR / "prometheus.yml",
        *sorted((PROMETHEUS_DIR / "rules").glob("*.yml")),
        *sorted((PROMETHEUS_DIR / "tests").glob("*.yml")),
        *sorted((REPO_ROOT / "deploy" / "grafana" / "provisioning").rglob("*.yaml")),
    ]
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# "), path.name
        assert len(first) > 20, path.name


# ----------------------------------------------------------------------------------- ports


def test_spec_defaults_match_the_worker_settings() -> None:
    from worker.settings import RuntimeSettings

    fields = RuntimeSettings.model_fields
    assert fields["LIVEKIT_URL"].default == LIVEKIT_URL_DEFAULT
    assert fields["HEALTH_PORT"].default == HEALTH_PORT
    assert fields["METRICS_PORT"].default == METRICS_PORT
    assert fields["BIND_HOST"].default == "127.0.0.1"


def test_ports_match_the_worker_defaults(services: dict[str, dict[str, Any]]) -> None:
    # A worker on the host with default settings reaches LiveKit and the Collector here.
    livekit_url = urlsplit(LIVEKIT_URL_DEFAULT)
    assert published_ports(services["livekit"])[livekit_url.port or 0] == "127.0.0.1"
    otlp = urlsplit(OTLP_ENDPOINT_DEFAULT)
    assert published_ports(services["otel-collector"])[otlp.port or 0] == "127.0.0.1"


def test_published_ports(services: dict[str, dict[str, Any]]) -> None:
    livekit_config = load_yaml(REPO_ROOT / "deploy" / "livekit" / "livekit.yaml")
    expected = {
        "livekit": {
            7880,
            livekit_config["rtc"]["tcp_port"],
            livekit_config["rtc"]["udp_port"],
            livekit_config["prometheus"]["port"],
        },
        "otel-collector": {
            COLLECTOR_OTLP_GRPC,
            COLLECTOR_OTLP_HTTP,
            COLLECTOR_METRICS,
            COLLECTOR_HEALTH,
        },
        "tempo": {TEMPO_HTTP},
        "prometheus": {PROMETHEUS_HTTP},
        "grafana": {GRAFANA_HTTP},
        "worker": set(),
    }
    for name, service in services.items():
        ports = published_ports(service)
        assert set(ports) == expected[name], name
        # Dev-only credentials: nothing is published beyond this machine.
        assert set(ports.values()) <= {"127.0.0.1"}, name
    assert livekit_config["port"] == 7880


def test_scrape_targets_match_the_services(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    livekit_config = load_yaml(REPO_ROOT / "deploy" / "livekit" / "livekit.yaml")
    tempo_config = load_yaml(REPO_ROOT / "deploy" / "tempo" / "tempo.yaml")
    expected_ports = {
        "livekit": livekit_config["prometheus"]["port"],
        "otel-collector": COLLECTOR_METRICS,
        "tempo": tempo_config["server"]["http_listen_port"],
        "worker": METRICS_PORT,
        "host.docker.internal": METRICS_PORT,
        "localhost": PROMETHEUS_HTTP,
    }
    targets = []
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets += [host_port(t) for t in static["targets"]]
        for dns in job.get("dns_sd_configs", []):
            targets += [(name, int(dns["port"])) for name in dns["names"]]
    assert len(targets) == len(expected_ports)
    for host, port in targets:
        assert expected_ports[host] == port, f"{host}:{port}"
        if host not in ("host.docker.internal", "localhost"):
            assert host in services, host
    assert tempo_config["server"]["http_listen_port"] == TEMPO_HTTP


def test_prometheus_reaches_the_host_worker_and_stores_exemplars(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    assert "host.docker.internal:host-gateway" in prometheus["extra_hosts"]
    assert "--enable-feature=exemplar-storage" in prometheus["command"]


def test_collector_and_tempo_agree_on_otlp(services: dict[str, dict[str, Any]]) -> None:
    tempo_config = load_yaml(REPO_ROOT / "deploy" / "tempo" / "tempo.yaml")
    grpc = tempo_config["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert grpc == f"0.0.0.0:{COLLECTOR_OTLP_GRPC}"
    collector_config = (REPO_ROOT / "deploy" / "collector" / "config.yaml").read_text()
    assert f"tempo:{COLLECTOR_OTLP_GRPC}" in collector_config
    for port in (COLLECTOR_OTLP_GRPC, COLLECTOR_OTLP_HTTP, COLLECTOR_METRICS, COLLECTOR_HEALTH):
        assert str(port) in collector_config, port


def test_grafana_datasources_point_at_the_services(services: dict[str, dict[str, Any]]) -> None:
    path = REPO_ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
    urls = {d["uid"]: urlsplit(d["url"]) for d in load_yaml(path)["datasources"]}
    assert (urls["prometheus"].hostname, urls["prometheus"].port) == ("prometheus", PROMETHEUS_HTTP)
    assert (urls["tempo"].hostname, urls["tempo"].port) == ("tempo", TEMPO_HTTP)
    assert {"prometheus", "tempo"} <= set(services)


def test_grafana_credentials_are_dev_only(services: dict[str, dict[str, Any]]) -> None:
    env = services["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_USER"] == "admin"
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == "admin"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


# ---------------------------------------------------------------------------------- worker


def test_worker_service(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert worker["profiles"] == ["worker"]
    assert worker["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert (REPO_ROOT / worker["build"]["dockerfile"]).is_file()
    env = worker["environment"]
    assert urlsplit(env["LIVEKIT_URL"]).hostname == "livekit"
    assert urlsplit(env["LIVEKIT_URL"]).port == urlsplit(LIVEKIT_URL_DEFAULT).port
    otlp = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert (otlp.hostname, otlp.port) == ("otel-collector", COLLECTOR_OTLP_HTTP)
    assert (env["LIVEKIT_API_KEY"], env["LIVEKIT_API_SECRET"]) == ("devkey", "secret")
    assert env["ALLOW_DEV_CREDENTIALS_IN_PRODUCTION"] == "true", "`start` refuses them otherwise"
    assert env["BIND_HOST"] == "0.0.0.0"
    assert int(env["HEALTH_PORT"]) == HEALTH_PORT
    assert int(env["METRICS_PORT"]) == METRICS_PORT
    assert {int(p) for p in worker["expose"]} == {HEALTH_PORT, METRICS_PORT}
    test = worker["healthcheck"]["test"]
    assert test[1:4] == ["python", "-m", "worker.health"]
    assert urlsplit(test[test.index("--url") + 1]).port == HEALTH_PORT


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), " ".join(rest.split())))
    return result


def test_dockerfile() -> None:
    steps = dockerfile_instructions()
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for k, a in steps if k == "ARG" and "=" in a}
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    froms = [a for k, a in steps if k == "FROM"]
    assert froms
    assert all(f.startswith("${PYTHON_IMAGE}") for f in froms)
    runs = " ".join(a for k, a in steps if k == "RUN")
    assert "poetry install --only main" in runs
    copies = " ".join(a for k, a in steps if k == "COPY")
    assert "pyproject.toml poetry.lock" in copies

    final = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    users = [a for k, a in final if k == "USER"]
    assert users, "the runtime stage must set USER"
    assert users[-1] not in ("root", "0"), "the runtime stage must not run as root"
    env = " ".join(a for k, a in final if k == "ENV")
    assert "BIND_HOST=0.0.0.0" in env
    exposed = {int(p) for k, a in final if k == "EXPOSE" for p in a.split()}
    assert exposed == {HEALTH_PORT, METRICS_PORT}
    (healthcheck,) = [a for k, a in final if k == "HEALTHCHECK"]
    assert (
        'CMD ["python", "-m", "worker.health", "--url", '
        f'"http://127.0.0.1:{HEALTH_PORT}/", "--timeout", "2"]'
    ) in healthcheck
    cmd = [a for k, a in final if k == "CMD"]
    assert cmd == ['["python", "-m", "worker", "start"]']


def test_dockerignore_keeps_the_context_small() -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allowlist: ignore everything, then re-include"
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY" and not arguments.startswith("--from"):
            copied.update(arguments.split()[:-1])
    assert copied <= included
    assert not {".venv", ".git", "tests"} & included
