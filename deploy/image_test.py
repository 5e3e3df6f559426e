"""`make image-test`: the container image and the compose stack, built and run for real.

1. Base images: each image `deploy/Dockerfile` and `deploy/compose.yaml` name is used as
   it is when the engine has it or can pull it; otherwise (a machine that reaches no
   container registry, such as this project's) a stand-in is built under that exact name
   from Debian: `debootstrap --variant=minbase bookworm` from the machine's own apt
   mirror, imported, then `deploy/stand-ins/*.Containerfile` (Debian's python3 +
   python3-venv, redis-server, nginx-light). The summary says which was which.
2. The image: `deploy/Dockerfile` built (Podman: `--format docker`, or `HEALTHCHECK` is
   dropped), its size, what is in its venv (no pip, no setuptools), its user.
3. One container: storesim and the gateway from the one image on a network of their own:
   `/healthz`, `/readyz`, the healthcheck, the README's guest session with an add-item,
   an ETag read, then a SIGTERM stop.
4. The stack: `deploy/compose.yaml` (Redis and its replica, storesim, two gateway
   replicas, nginx) brought `down` then `up`: the same session through nginx, both
   replicas shown to have served (their logs), the cart's keys in Redis and on its
   replica, then `down`.

Timings are printed: base images, build, seconds to ready (one container, the stack),
the whole test. Images are cached between runs (the base images and the build's layer
cache: a warm run rebuilds only what changed); everything else the test makes it
removes, and it never touches what it did not make: with Podman it works in a store of
its own (`--home`, default `~/.local/share/cartsync-image-test`; `--clean` empties it),
with Docker (`--engine docker`) it names and labels what it makes.

Podman, as measured on this project's machines: runc (crun 1.8 refuses their hybrid
cgroups), `default_ulimits` at the machine's own hard limits (a container cannot raise
them), builds on the host's network with the host's CA bundle and pip index mounted for
the RUN steps only, podman-compose (podman 4.3 has no `podman compose`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
STAND_INS = DEPLOY / "stand-ins"
PROJECT = "cartsync-image-test"
LABEL = "io.cartsync.image-test"
IMAGE = "localhost/cartsync-image-test/cartsync:latest"
MINBASE = "localhost/cartsync-image-test/debian-minbase:bookworm"
SUITE = "bookworm"
# Which stand-in serves which official image (by repository).
STAND_IN_FOR = {"python": "python", "redis": "redis", "nginx": "nginx"}
# The minbase is slimmed as Debian's official images are: no docs, man pages or locales.
DPKG_EXCLUDES = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""
ISSUER = "https://shop.example"
READY_TIMEOUT_S = 90.0


class Failed(Exception):
    """A check that did not hold: the test stops, cleans up and exits 1."""


def log(message: str) -> None:
    print(f"image-test: {message}", flush=True)


# --- the engine ------------------------------------------------------------------------


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
        return _run([self.name, *args], self.env, check=check, capture=capture, timeout=timeout)

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
        _run(command, env, check=check, timeout=600)

    def service_of(self) -> str:
        """A `ps --format` template: a compose container's name and its service."""
        label = "com.docker.compose.service"
        if self.name == "docker":
            return f'{{{{.Names}}}} {{{{.Label "{label}"}}}}'
        return f'{{{{.Names}}}} {{{{index .Labels "{label}"}}}}'


def _run(
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


# --- base images -----------------------------------------------------------------------


def base_images() -> list[str]:
    """Every image the Dockerfile and the compose file start from (fully qualified),
    but cartsync's own."""
    names: list[str] = []
    stages: set[str] = set()
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if match:
            if match.group(1) not in stages:
                names.append(match.group(1))
            if match.group(2):
                stages.add(match.group(2))
    for match in re.finditer(r"^\s*image:\s*(\S+)", (DEPLOY / "compose.yaml").read_text(), re.M):
        if "cartsync" not in match.group(1):
            names.append(match.group(1))
    return list(dict.fromkeys(qualify(n) for n in names))


def qualify(name: str) -> str:
    parts = name.split("/")
    if len(parts) == 1:
        return f"docker.io/library/{name}"
    if "." not in parts[0] and ":" not in parts[0] and parts[0] != "localhost":
        return f"docker.io/{name}"
    return name


def apt_mirror() -> str:
    """The Debian archive this machine's apt uses (deb822 or one-line sources)."""
    if os.environ.get("IMAGE_TEST_APT_MIRROR"):
        return os.environ["IMAGE_TEST_APT_MIRROR"]
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = {
                k.strip().lower(): v.strip()
                for k, _, v in (ln.partition(":") for ln in stanza.splitlines())
                if not k.startswith("#") and v
            }
            suites = fields.get("suites", "").split()
            if "deb" in fields.get("types", "").split() and SUITE in suites:
                return fields["uris"].split()[0]
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    return words[1]
    return "http://deb.debian.org/debian"


def recipe(*parts: str | Path) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.read_bytes() if isinstance(part, Path) else part.encode())
    return digest.hexdigest()[:16]


def ensure_bases(engine: Engine, pool: ThreadPoolExecutor) -> dict[str, Future[str]]:
    """Each base image, in parallel: the engine's own, pulled, or a stand-in (cached or
    built; one debootstrap for all). Each future answers how the image was had."""
    mirror = apt_mirror()
    minbase = threading.Lock()
    return {
        image: pool.submit(ensure_base, engine, image, mirror, minbase) for image in base_images()
    }


def ensure_base(engine: Engine, image: str, mirror: str, minbase: threading.Lock) -> str:
    repo = image.rsplit("/", 1)[-1].split(":")[0]
    stand_in = STAND_IN_FOR.get(repo)
    if engine.exists(image) and LABEL not in engine.labels(image):
        return "official (already present)"
    if engine.run("pull", "-q", image, check=False, timeout=300).returncode == 0:
        return "official (pulled)"
    if stand_in is None:
        raise Failed(f"{image} cannot be pulled and has no stand-in")
    containerfile = STAND_INS / f"{stand_in}.Containerfile"
    extra = sorted(STAND_INS.glob(f"{stand_in}-*"))
    want = recipe(containerfile, *extra, mirror, DPKG_EXCLUDES)
    if engine.exists(image) and engine.labels(image).get(LABEL) == want:
        return "STAND-IN (cached)"
    with minbase:
        ensure_minbase(engine, mirror)
    started = time.monotonic()
    engine.run(
        "build",
        *engine.build_args,
        "--build-arg",
        f"BASE={MINBASE}",
        "--label",
        f"{LABEL}={want}",
        "-f",
        str(containerfile),
        "-t",
        image,
        str(STAND_INS),
    )
    return f"STAND-IN (built, {time.monotonic() - started:.1f} s)"


def ensure_minbase(engine: Engine, mirror: str) -> None:
    want = recipe(mirror, SUITE, DPKG_EXCLUDES)
    if engine.exists(MINBASE) and engine.labels(MINBASE).get(LABEL) == want:
        return
    if shutil.which("debootstrap") is None:
        raise Failed("debootstrap not found (scripts/install-system-deps.sh --image-test)")
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="minbase-", dir=engine.home))
    try:
        root = scratch / "rootfs"
        _run(
            ["debootstrap", "--variant=minbase", SUITE, str(root), mirror],
            dict(os.environ),
            timeout=900,
        )
        # As in Debian's official images: no services started by packages, no docs.
        (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")
        (root / "usr/sbin/policy-rc.d").chmod(0o755)
        (root / "etc/dpkg/dpkg.cfg.d/excludes").write_text(DPKG_EXCLUDES)
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "var/log/*"):
            for path in root.glob(pattern):
                if path.is_file():
                    path.unlink()
        for sub in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"):
            for path in (root / sub).glob("*"):
                if sub == "usr/share/locale" and path.name == "locale.alias":
                    continue
                if path.is_dir() and not path.is_symlink():
                    keep = path / "copyright"
                    for child in path.iterdir():
                        if child != keep:
                            _remove(child)
                else:
                    _remove(path)
        tar = subprocess.Popen(  # noqa: S603
            ["tar", "--numeric-owner", "-C", str(root), "-c", "."],  # noqa: S607
            stdout=subprocess.PIPE,
        )
        _run(
            [
                engine.name,
                "import",
                "--change",
                f"LABEL {LABEL}={want}",
                "--change",
                'CMD ["bash"]',
                "-",
                MINBASE,
            ],
            engine.env,
            stdin=tar.stdout,
        )
        if tar.wait() != 0:
            raise Failed("tar of the debootstrapped tree failed")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"minbase: debootstrap {SUITE} from {mirror}, {time.monotonic() - started:.1f} s")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


# --- HTTP ------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


def wait_until(what: str, ready: Any, timeout: float = READY_TIMEOUT_S) -> float:
    """Seconds until ``ready()`` is true (polled every 0.1 s)."""
    started = time.monotonic()
    while True:
        try:
            if ready():
                return time.monotonic() - started
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() - started > timeout:
            raise Failed(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.1)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def shopping_session(base: str) -> dict[str, Any]:
    """The README's curl session (guest token, products, add two Beanies, read the
    cart with its ETag), checked answer by answer; returns the cart."""
    health = http("GET", f"{base}/healthz")
    expect(health.status == 200, f"/healthz answered {health.status}: {health.body[:300]!r}")
    ready = http("GET", f"{base}/readyz")
    expect(ready.status == 200, f"/readyz answered {ready.status}: {ready.body[:300]!r}")
    guest = http("POST", f"{base}/v1/session/guest")
    expect(guest.status in (200, 201), f"POST /v1/session/guest answered {guest.status}")
    token = guest.json()["token"]
    products = http("GET", f"{base}/v1/products?per_page=3", token=token)
    expect(products.status == 200, f"GET /v1/products answered {products.status}")
    added = http(
        "POST", f"{base}/v1/cart/items", token=token, body={"product_id": 10, "quantity": 2}
    )
    expect(added.status == 200, f"POST /v1/cart/items answered {added.status}: {added.body!r}")
    cart: dict[str, Any] = added.json()
    lines = [(i["product_id"], i["quantity"]) for i in cart["items"]]
    expect(lines == [(10, 2)], f"the cart after the add holds {lines}, not [(10, 2)]")
    expect(cart["totals"]["subtotal"] == 3600, f"subtotal {cart['totals']['subtotal']} != 3600")
    read = http("GET", f"{base}/v1/cart", token=token)
    etag = read.headers.get("ETag") or read.headers.get("etag")
    expect(read.status == 200 and etag == f'"{cart["version"]}"', f"GET /v1/cart: {read.status}")
    again = http("GET", f"{base}/v1/cart", token=token, headers={"If-None-Match": etag or ""})
    expect(again.status == 304, f"GET /v1/cart with its ETag answered {again.status}, not 304")
    cart["_token"] = token
    return cart


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the test --------------------------------------------------------------------------


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("podman", "docker"), default="podman")
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / PROJECT,
        help="Podman: this test's own image store and settings",
    )
    parser.add_argument("--compose", default="podman-compose", help="podman-compose to use")
    parser.add_argument("--clean", action="store_true", help="remove everything it made, exit")
    parser.add_argument("--bare", action="store_true", help="--clean first: time a bare run")
    args = parser.parse_args(argv)
    whole = time.monotonic()
    figures = Figures()
    try:
        engine = (
            podman_engine(args.home, args.compose)
            if args.engine == "podman"
            else docker_engine(args.home)
        )
        if args.clean or args.bare:
            clean(engine)
            if args.clean:
                return 0
            engine = podman_engine(args.home, args.compose) if args.engine == "podman" else engine
        version = engine.out("version", "--format", "{{.Client.Version}}")
        figures.add("engine", f"{engine.name} {version} " + " ".join(engine.notes))
        if engine.name == "podman" and shutil.which(args.compose) is None:
            raise Failed(f"{args.compose} not found (make image-test installs it)")
        with ThreadPoolExecutor(max_workers=4) as pool:
            started = time.monotonic()
            bases = ensure_bases(engine, pool)
            # The image needs only its own base; the others come meanwhile.
            python = qualify(base_images()[0])
            figures.add(f"base {python}", bases[python].result())
            build(engine, figures)
            run_id = secrets.token_hex(4)
            one_container(engine, figures, run_id)
            for image, how in bases.items():
                if image != python:
                    figures.add(f"base {image}", how.result())
            figures.add("base images, all", f"{time.monotonic() - started:.1f} s after the start")
            compose_stack(engine, figures, run_id)
    except (Failed, subprocess.TimeoutExpired) as error:
        log(f"FAILED: {error}")
        return 1
    figures.add("whole test", f"{time.monotonic() - whole:.1f} s")
    log("image and compose stack: every check held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
