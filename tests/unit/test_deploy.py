"""deploy/ stays one topology: the image runs what the local stack runs, the compose
balancer proxies as the stack's does, and the manifests pass the same arguments."""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

import yaml
from deploy.local.stack import NGINX_CONF, replica_command

from cartsync.carts.policy import CartPolicy
from cartsync.cli import GRACEFUL_SHUTDOWN_S

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _instruction(dockerfile: str, name: str) -> list[str]:
    """The exec form of the last ``name`` instruction (a JSON array)."""
    lines = [line for line in dockerfile.splitlines() if line.startswith(f"{name} ")]
    assert lines, f"no {name} in the Dockerfile"
    parsed = json.loads(lines[-1][len(name) + 1 :])
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def _proxy_directives(conf: str) -> list[str]:
    location = conf[conf.index("location / {") :]
    location = location[: location.index("}")]
    return [" ".join(line.split()) for line in location.splitlines() if "proxy_" in line]


def test_the_image_runs_the_command_the_local_stack_runs() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    command = _instruction(dockerfile, "ENTRYPOINT") + _instruction(dockerfile, "CMD")
    assert command == ["python", *replica_command("0.0.0.0", 8080)]  # noqa: S104


def test_the_kubernetes_deployment_passes_the_image_its_own_arguments() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    deployment = yaml.safe_load((DEPLOY / "k8s/base/deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == _instruction(dockerfile, "CMD")
    port = int(_instruction(dockerfile, "CMD")[-1])
    assert container["ports"][0]["containerPort"] == port
    assert f"EXPOSE {port}" in dockerfile


def test_the_compose_balancer_proxies_as_the_local_stack_does() -> None:
    compose_conf = (DEPLOY / "compose/nginx.conf").read_text()
    stack_conf = NGINX_CONF.replace("{{", "{").replace("}}", "}")
    assert _proxy_directives(compose_conf) == _proxy_directives(stack_conf)
    assert len(_proxy_directives(compose_conf)) >= 8
    for directive in ("least_conn;", "keepalive 64;", "client_max_body_size 1m;"):
        assert directive in compose_conf
        assert directive in stack_conf


def test_the_grace_period_covers_the_shutdown_sequence() -> None:
    deployment = yaml.safe_load((DEPLOY / "k8s/base/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    pre_stop = " ".join(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"])
    pre_stop_s = float(re.findall(r"sleep\((\d+(?:\.\d+)?)\)", pre_stop)[0])
    assert pod["terminationGracePeriodSeconds"] >= (
        pre_stop_s + GRACEFUL_SHUTDOWN_S + CartPolicy().shutdown_lane_grace_s
    )


def test_the_compose_gateways_trust_nginx_and_only_nginx() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    gateway = compose["services"]["gateway-1"]["environment"]
    nginx = compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert gateway["CARTSYNC_TRUSTED_PROXIES"] == nginx
    assert ipaddress.ip_address(nginx) in ipaddress.ip_network(subnet)
    assert compose["services"]["gateway-2"]["environment"] == gateway


def test_metrics_are_scraped_where_the_gateway_serves_them() -> None:
    configmap = yaml.safe_load((DEPLOY / "k8s/base/configmap.yaml").read_text())["data"]
    deployment = yaml.safe_load((DEPLOY / "k8s/base/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]
    ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
    port = int(configmap["CARTSYNC_METRICS_PORT"])
    assert int(pod["metadata"]["annotations"]["prometheus.io/port"]) == ports["metrics"] == port
    assert ports["http"] != port
    ipaddress.ip_network(configmap["CARTSYNC_TRUSTED_PROXIES"])  # a network, as settings want


def test_the_deployed_redis_is_durable() -> None:
    """Redis is the store of record: compose and the Kubernetes example run it with an
    append-only file on a volume, fsync every second, no eviction, and a replica."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    command = " ".join(compose["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/data") for v in compose["redis"]["volumes"])
    assert "--replicaof redis 6379" in " ".join(compose["redis-replica"]["command"])
    manifests = list(yaml.safe_load_all((DEPLOY / "k8s" / "redis" / "redis.yaml").read_text()))
    conf = next(m for m in manifests if m["kind"] == "ConfigMap")["data"]["redis.conf"]
    for line in ("appendonly yes", "appendfsync everysec", "maxmemory-policy noeviction"):
        assert line in conf
    sets = {m["metadata"]["name"]: m for m in manifests if m["kind"] == "StatefulSet"}
    assert set(sets) == {"redis", "redis-replica"}
    assert all(s["spec"]["volumeClaimTemplates"] for s in sets.values())
    overlay = (DEPLOY / "k8s" / "overlays" / "example" / "kustomization.yaml").read_text()
    assert "../../redis" in overlay


def test_the_image_build_resolves_and_fetches_nothing_unpinned() -> None:
    """Every pip install in the Dockerfile is --no-deps; the one build tool is pinned by
    hash; the lock goes in as wheels only (an sdist would fetch its own build tools);
    cartsync is built with that tool (no isolated, unpinned build environment); pip and
    setuptools leave the venv the final stage copies, and it copies nothing else."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    installs = re.findall(r"pip install [^&\n]*", dockerfile)
    assert len(installs) == 3
    assert all("--no-deps" in install for install in installs)
    assert "--require-hashes -r build-requirements.txt" in installs[0]
    assert "--only-binary=:all: -r requirements.lock" in installs[1]
    assert installs[2].rstrip(" \\").endswith("--no-build-isolation .")
    assert "pip uninstall --yes --quiet pip setuptools" in dockerfile
    final = dockerfile[dockerfile.rindex("\nFROM ") :]
    assert re.findall(r"^COPY .*", final, re.M) == ["COPY --from=build /opt/cartsync /opt/cartsync"]
    pins = (DEPLOY / "build-requirements.txt").read_text()
    requirements = [line for line in pins.splitlines() if line and line[0] not in "# "]
    assert requirements
    assert all(re.fullmatch(r"[\w.-]+==[\w.]+ \\", line) for line in requirements)
    assert pins.count("--hash=sha256:") == len(requirements)


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    """.dockerignore admits only what deploy/Dockerfile copies (a Docker client sends no
    virtualenv, and no stray bytecode reaches the image), and all of it."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = {
        source.rstrip("/")
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
    }
    ignore = (DEPLOY.parent / ".dockerignore").read_text().splitlines()
    admitted = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    assert admitted == copied


def test_every_base_image_has_a_stand_in_for_the_image_test() -> None:
    """`make image-test` runs on machines that reach no registry: every image the
    Dockerfile and the compose file start from has a stand-in recipe."""
    from deploy.imagetest.bases import STAND_IN_FOR, STAND_INS, base_images

    images = base_images()
    assert "docker.io/library/python:3.11-slim-bookworm" in images
    assert len(images) == 3  # python, redis, nginx: cartsync's own image is built
    for image in images:
        repo = image.rsplit("/", 1)[-1].split(":")[0]
        assert (STAND_INS / f"{STAND_IN_FOR[repo]}.Containerfile").is_file(), image
