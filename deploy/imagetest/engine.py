"""The container engine the image test drives, set up so that it touches nothing it did not
make: Podman in a store and settings of its own (runc, the machine's hard ulimits, the host's
pip index and CA bundle for the build's RUN steps only), or Docker with what it makes labelled;
`clean` removes all of it again."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

PROJECT = "cartsync-image-test"
LABEL = "io.cartsync.image-test"


class Failed(Exception):
    """A check that did not hold: the test stops, cleans up and exits 1."""


def log(message: str) -> None:
    print(f"image-test: {message}", flush=True)


@dataclass
class Engine:
    name: str  # podman | docker
    compose: list[str]
    env: dict[str, str]
    home: Path
    build_args: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def run(
        self, *args: str, check: bool = True, capture: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return run_command(
            [self.name, *args], self.env, check=check, capture=capture, timeout=timeout
        )

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()

    def exists(self, image: str) -> bool:
        return self.run("image", "inspect", image, check=False).returncode == 0

    def labels(self, image: str) -> dict[str, str]:
        data = json.loads(self.out("image", "inspect", image))[0]
        return dict((data.get("Config") or {}).get("Labels") or {})

    def size(self, image: str) -> int:
        return int(self.out("image", "inspect", "--format", "{{.Size}}", image))

    def compose_cmd(self, *args: str, env: dict[str, str], check: bool = True) -> None:
        command = [*self.compose, "-p", PROJECT, "-f", str(DEPLOY / "compose.yaml"), *args]
        run_command(command, env, check=check, timeout=600)

    def service_of(self) -> str:
        """A `ps --format` template: a compose container's name and its service."""
        label = "com.docker.compose.service"
        if self.name == "docker":
            return f'{{{{.Names}}}} {{{{.Label "{label}"}}}}'
        return f'{{{{.Names}}}} {{{{index .Labels "{label}"}}}}'


def run_command(
    command: Sequence[str],
    env: dict[str, str],
    *,
    check: bool = True,
    capture: bool = True,
    timeout: float = 900,
    stdin: Any = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - our own commands, no shell
        list(command),
        env=env,
        text=True,
        stdin=stdin,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip()[-3000:] if capture else ""
        raise Failed(f"`{shlex.join(command)}` exited {result.returncode}\n{detail}")
    return result


def hard_limits() -> tuple[int, int]:
    """The open-files and processes limits a container can have here: its runtime
    cannot raise them, so they are set at what the machine allows (the kernel's
    `pid_max` bounds processes too: Podman lowers its own limit to it)."""
    import resource

    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    try:
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        pid_max = nproc
    if nproc == resource.RLIM_INFINITY:
        nproc = pid_max
    if nofile == resource.RLIM_INFINITY:
        nofile = 1048576
    return nofile, min(nproc, pid_max)


def run_root() -> Path:
    return Path(os.environ.get("XDG_RUNTIME_DIR") or "/run") / PROJECT


def podman_engine(home: Path, compose: str) -> Engine:
    if shutil.which("podman") is None:
        raise Failed("podman not found (scripts/install-system-deps.sh --image-test)")
    runtime = shutil.which("runc")
    if runtime is None:
        raise Failed(
            "runc not found: crun 1.8 refuses this machine's cgroups; apt-get install runc"
        )
    home.mkdir(parents=True, exist_ok=True)
    nofile, nproc = hard_limits()
    (home / "networks").mkdir(exist_ok=True)
    (home / "containers.conf").write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        f'runtime = "runc"\n[engine.runtimes]\nrunc = ["{runtime}"]\n'
        "[network]\n"
        f'network_config_dir = "{home / "networks"}"\n'
    )
    (home / "storage.conf").write_text(
        '[storage]\ndriver = "overlay"\n'
        f'graphroot = "{home / "storage"}"\nrunroot = "{run_root()}"\n'
    )
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(home / "containers.conf")
    env["CONTAINERS_STORAGE_CONF"] = str(home / "storage.conf")
    engine = Engine("podman", [compose], env, home)
    engine.notes.append(f"ulimits nofile={nofile} nproc={nproc}")
    engine.build_args = ["--format", "docker", "--network", "host", *pip_mounts(home)]
    return engine


def docker_engine(home: Path) -> Engine:
    if shutil.which("docker") is None:
        raise Failed("docker not found")
    home.mkdir(parents=True, exist_ok=True)
    engine = Engine("docker", ["docker", "compose"], dict(os.environ), home)
    info = engine.run("info", check=False)
    if info.returncode != 0:
        said = (info.stderr or info.stdout).strip().splitlines()[-1:]
        raise Failed(f"`docker info` failed, no Docker engine answers: {' '.join(said)}")
    engine.build_args = ["--network", "host"]
    return engine


def pip_mounts(home: Path) -> list[str]:
    """The host's pip index and CA bundle for the build's RUN steps only (bind mounts:
    nothing of them is in any layer). An intercepting proxy's CA lives in the host's
    bundle; a file:// index is mounted where the host has it."""
    config = _pip_config()
    index = os.environ.get("PIP_INDEX_URL") or config.get("index-url") or "https://pypi.org/simple"
    index = index.split()[0]
    cert = (
        os.environ.get("PIP_CERT")
        or config.get("cert")
        or os.environ.get("SSL_CERT_FILE")
        or ("/etc/ssl/certs/ca-certificates.crt")
    )
    mounts: list[str] = []
    conf = ["[global]", f"index-url = {index}"]
    if index.startswith("file://"):
        path = index[len("file://") :]
        mounts += ["-v", f"{path}:{path}:ro"]
    if cert and Path(cert).is_file():
        mounts += ["-v", f"{Path(cert).resolve()}:/run/cartsync-build/ca.crt:ro"]
        conf.append("cert = /run/cartsync-build/ca.crt")
    (home / "pip.conf").write_text("\n".join(conf) + "\n")
    mounts += ["-v", f"{home / 'pip.conf'}:/etc/pip.conf:ro"]
    return mounts


def _pip_config() -> dict[str, str]:
    found: dict[str, str] = {}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stdout.splitlines():
        key, _, value = line.partition("=")
        section, _, name = key.partition(".")
        if section in ("global", "install") and name in ("index-url", "cert"):
            found[name] = value.strip().strip("'\"")
    return found


def clean(engine: Engine) -> None:
    """Everything this test ever made: with Podman its own store, with Docker what it
    labelled and the stand-ins it tagged."""
    if engine.name == "podman":
        for args in (("rm", "-a", "-f", "-t", "0"), ("rmi", "-a", "-f")):
            engine.run(*args, check=False)
        engine.run("volume", "prune", "-f", check=False)
        engine.run("network", "prune", "-f", check=False)
        shutil.rmtree(engine.home, ignore_errors=True)
        shutil.rmtree(run_root(), ignore_errors=True)
        log(f"removed {engine.home}")
        return
    label = f"label={LABEL}"
    for listing, remove in (
        (("ps", "-aq"), ("rm", "-f")),
        (("network", "ls", "-q"), ("network", "rm")),
        (("volume", "ls", "-q"), ("volume", "rm", "-f")),
        (("images", "-q"), ("rmi", "-f")),
    ):
        found = sorted(set(engine.out(*listing, "--filter", label).split()))
        if found:
            engine.run(*remove, *found, check=False)
