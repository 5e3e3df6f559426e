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
