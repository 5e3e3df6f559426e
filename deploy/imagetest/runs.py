"""The runs themselves: the image built and inspected, one container of it beside storesim,
then the compose stack through nginx and its stop; each adds its figures as it goes and
cleans up what it started, whatever happened."""

from __future__ import annotations

import json
import re
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .bases import base_images, qualify
from .checks import expect, free_port, http, shopping_session, wait_until
from .engine import DEPLOY, LABEL, PROJECT, ROOT, Engine, Failed, log

IMAGE = "localhost/cartsync-image-test/cartsync:latest"

ISSUER = "https://shop.example"


@dataclass
class Figures:
    rows: list[tuple[str, str]] = field(default_factory=list)
    checks: int = 0

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))
        log(f"{name}: {value}")


def secrets_env() -> dict[str, str]:
    return {
        "CARTSYNC_JWT_SECRET": secrets.token_hex(24),
        "CARTSYNC_GUEST_SECRET": secrets.token_hex(24),
    }


def build(engine: Engine, figures: Figures) -> None:
    started = time.monotonic()
    result = engine.run(
        "build",
        *engine.build_args,
        "--label",
        f"{LABEL}=cartsync",
        "-f",
        str(DEPLOY / "Dockerfile"),
        "-t",
        IMAGE,
        str(ROOT),
        check=False,
    )
    built = time.monotonic() - started
    build_log = Path(tempfile.gettempdir()) / f"{PROJECT}-build.log"
    build_log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        print(result.stdout[-4000:] + result.stderr[-4000:], file=sys.stderr)
        raise Failed(f"the build of deploy/Dockerfile failed (its whole output: {build_log})")
    steps = sum(
        1 for ln in result.stdout.splitlines() if re.match(r"\[\d/\d\] STEP \S+ (?!FROM)", ln)
    )
    cached = result.stdout.count("Using cache") + result.stdout.count("CACHED")
    size = engine.size(IMAGE)
    base = engine.size(qualify(base_images()[0]))
    data = json.loads(engine.out("image", "inspect", IMAGE))[0]
    health = data.get("Healthcheck") or (data.get("Config") or {}).get("Healthcheck")
    expect(bool(health), "the image has no HEALTHCHECK (podman: build with --format docker)")
    probe = engine.out(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        IMAGE,
        "-c",
        "import importlib.util as u, os, shutil, sys; "
        "site = [p for p in sys.path if p.endswith('site-packages')][0]; "
        "tools = [m for m in ('pip', 'setuptools', 'wheel') if u.find_spec(m)]; "
        "size = sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in "
        "os.walk('/opt/cartsync') for f in fs); "
        "print(os.getuid(), size, ','.join(tools) or '-', site)",
    )
    uid, venv_bytes, tools, site = probe.split()
    expect(uid == "10001", f"the image runs as uid {uid}, not 10001")
    expect(tools == "-", f"the image's venv has {tools}")
    expect(site.startswith("/opt/cartsync/"), f"the image's site-packages is {site}")
    cache = f"{cached} of {steps} steps from the layer cache; " if steps else ""
    figures.add("build", f"{built:.1f} s ({cache}log: {build_log})")
    figures.add(
        "image size",
        f"{size / 1e6:.0f} MB (its base {base / 1e6:.0f} MB, cartsync's layers "
        f"{(size - base) / 1e6:.1f} MB; /opt/cartsync {int(venv_bytes) / 1e6:.1f} MB, "
        "no pip, setuptools or wheel in it; uid 10001; HEALTHCHECK kept)",
    )


def one_container(engine: Engine, figures: Figures, run_id: str) -> None:
    network = f"{PROJECT}-{run_id}"
    storesim = f"{PROJECT}-storesim-{run_id}"
    gateway = f"{PROJECT}-gateway-{run_id}"
    port = free_port()
    label = ["--label", f"{LABEL}={run_id}"]
    engine.run("network", "create", *label, network)
    try:
        engine.run(
            "run", "-d", "--name", storesim, *label, "--network", network,
            "--network-alias", "storesim", "--read-only", "--entrypoint", "python",
            IMAGE, "-m", "storesim", "--host", "0.0.0.0", "--port", "8181",  # noqa: S104
        )  # fmt: skip
        env = secrets_env() | {
            "CARTSYNC_UPSTREAM_URL": "http://storesim:8181",
            "CARTSYNC_JWT_ISSUER": ISSUER,
        }
        env_args = [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]
        started = time.monotonic()
        engine.run(
            "run", "-d", "--name", gateway, *label, "--network", network, "--read-only",
            "-p", f"127.0.0.1:{port}:8080", *env_args, IMAGE,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until("the gateway's /readyz", lambda: http("GET", f"{base}/readyz").status == 200)
        ready = time.monotonic() - started
        cart = shopping_session(base)
        if engine.name == "podman":
            # Podman schedules healthchecks with systemd timers (none here): run it once.
            engine.run("healthcheck", "run", gateway)
        else:
            wait_until(
                "the healthcheck",
                lambda: (
                    engine.out("inspect", "--format", "{{.State.Health.Status}}", gateway)
                    == "healthy"
                ),
            )
        stopped = time.monotonic()
        engine.run("stop", "-t", "45", gateway)
        stop_s = time.monotonic() - stopped
        code = engine.out("inspect", "--format", "{{.State.ExitCode}}", gateway)
        expect(code == "0", f"the gateway exited {code} on SIGTERM")
        figures.add(
            "ready, one container",
            f"{ready:.1f} s from `run` to /readyz 200 (cart {cart['id']} holds 2 x product 10;"
            f" healthcheck passed; SIGTERM: stopped in {stop_s:.1f} s, exit 0)",
        )
    except Failed:
        for name in (gateway, storesim):
            logs = engine.run("logs", "--tail", "30", name, check=False)
            print(f"--- {name} (last lines)\n{logs.stdout}{logs.stderr}", file=sys.stderr)
        raise
    finally:
        engine.run("rm", "-f", "-t", "5", gateway, storesim, check=False)
        engine.run("network", "rm", "-f", network, check=False)


def compose_containers(engine: Engine) -> dict[str, str]:
    """service -> container name, of this test's compose project."""
    listed = engine.out(
        "ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
        "--format", engine.service_of(),
    )  # fmt: skip
    return {svc: name for name, svc in (ln.split() for ln in listed.splitlines() if ln.strip())}


def compose_stack(engine: Engine, figures: Figures, run_id: str) -> None:
    port = free_port()
    env = dict(engine.env) | secrets_env()
    env |= {"GATEWAY_IMAGE": IMAGE, "NGINX_PORT": str(port), "CARTSYNC_JWT_ISSUER": ISSUER}
    engine.compose_cmd("down", "-v", "-t", "5", env=env, check=False)
    try:
        started = time.monotonic()
        engine.compose_cmd("up", "-d", env=env)
        names = compose_containers(engine)
        want = {"redis", "redis-replica", "storesim", "gateway-1", "gateway-2", "nginx"}
        expect(set(names) == want, f"the stack's containers are {sorted(names)}")
        base = f"http://127.0.0.1:{port}"

        def replica_ready(service: str) -> bool:
            probe = (
                "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/readyz', timeout=2)"
            )
            return (
                engine.run("exec", names[service], "python", "-c", probe, check=False).returncode
                == 0
            )

        wait_until("nginx's /readyz", lambda: http("GET", f"{base}/readyz").status == 200)
        wait_until(
            "both replicas' /readyz", lambda: all(map(replica_ready, ("gateway-1", "gateway-2")))
        )
        ready = time.monotonic() - started
        cart = shopping_session(base)
        # Which replica served: each logs the request ids it answered.
        marks = [f"{run_id}-{n}" for n in range(12)]
        for mark in marks:
            answer = http(
                "GET", f"{base}/v1/cart", token=cart["_token"], headers={"X-Request-ID": mark}
            )
            expect(answer.status == 200, f"GET /v1/cart through nginx answered {answer.status}")
            expect(answer.json()["version"] == cart["version"], "a replica answered another cart")
        served = {}
        for service in ("gateway-1", "gateway-2"):
            logs = engine.run("logs", names[service])
            text = logs.stdout + logs.stderr
            served[service] = sum(1 for mark in marks if f'"{mark}"' in text)
        expect(all(served.values()), f"requests served per replica: {served} (one served none)")
        expect(sum(served.values()) == len(marks), f"served {served} of {len(marks)} requests")
        # The cart lives in Redis (and its replica), not in either gateway.
        cart_key = f"{{cart:{cart['id']}}}"
        keys = engine.out(
            "exec", names["redis"], "redis-cli", "--scan", "--pattern", f"*{cart_key}*"
        ).split()
        expect(bool(keys), f"no key of cart {cart['id']} in Redis")
        replicated = wait_until(
            "the Redis replica",
            lambda: (
                engine.out("exec", names["redis-replica"], "redis-cli", "exists", keys[0]) == "1"
            ),
            timeout=15,
        )
        figures.add(
            "ready, compose stack",
            f"{ready:.1f} s from `up` to nginx and both replicas' /readyz 200 (served "
            f"{served['gateway-1']} + {served['gateway-2']} of {len(marks)} reads; cart keys in "
            f"Redis: {len(keys)}, on its replica within {replicated:.1f} s)",
        )
    except Failed:
        for service, name in compose_containers(engine).items():
            logs = engine.run("logs", "--tail", "20", name, check=False)
            print(f"--- {service} (last lines)\n{logs.stdout}{logs.stderr}", file=sys.stderr)
        raise
    finally:
        left = stop_stack(engine, figures, env)
    expect(not left, f"compose down left {sorted(left)}")


def stop_stack(engine: Engine, figures: Figures, env: dict[str, str]) -> dict[str, str]:
    """`stop` (every container at once, SIGTERM, their grace periods), how long each
    took and how it exited, then `down -v`: nothing of the project is left."""
    names = compose_containers(engine)
    stopping = time.time()
    engine.compose_cmd("stop", env=env, check=False)
    stopped = time.time() - stopping
    each = []
    for service, name in sorted(names.items()):
        finished, code = finished_at(engine, name)
        each.append(f"{service} {max(finished - stopping, 0):.1f} s exit {code}")
    engine.compose_cmd("down", "-v", "-t", "5", env=env, check=False)
    left = compose_containers(engine)
    figures.add("compose stop", f"{stopped:.1f} s ({', '.join(each)}); down: {len(left)} left")
    return left


def finished_at(engine: Engine, name: str) -> tuple[float, str]:
    """When a container stopped (Unix seconds) and its exit code."""
    if engine.name == "podman":
        out = engine.out(
            "inspect", "--format", "{{.State.FinishedAt.UnixNano}} {{.State.ExitCode}}", name
        )
        nanos, code = out.split()
        return int(nanos) / 1e9, code
    out = engine.out("inspect", "--format", "{{.State.FinishedAt}} {{.State.ExitCode}}", name)
    stamp, code = out.split()
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", stamp).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp(), code
