"""The local multi-replica stack, without containers: the production topology on one box.

    python -m deploy.local.stack [--replicas 2] [--port 8080] [--latency realistic]

A private ``redis-server``, storesim as the shop, N gateway replicas as separate
``python -m cartsync serve`` processes (the image's entrypoint command) and nginx
(the Debian package) balancing them on one port. One command starts it, Ctrl-C or
SIGTERM stops it. Tests and benchmarks use :class:`Stack` directly.

nginx is configured as a production balancer in front of cartsync should be: HTTP/1.1
keep-alive to the replicas, no response buffering (the change feed is SSE), long read
timeouts for streams, ``X-Forwarded-For`` set, and non-idempotent requests never
retried on another replica (nginx's default, kept on purpose: a POST that reached a
replica may have been applied; the client retries it with its ``Idempotency-Key``).
The replicas trust nginx's ``X-Forwarded-For`` (``CARTSYNC_TRUSTED_PROXIES``: nginx
reaches them from 127.0.0.1), so guest-token limits and the store see each shopper's own
address; a client on another loopback address (127.0.0.2) is a shopper of its own.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

NGINX_CONF = """\
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    upstream cartsync {{
        least_conn;
{servers}
        keepalive 64;
    }}
    server {{
        listen {host}:{port};
        client_max_body_size 1m;
        location / {{
            proxy_pass http://cartsync;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_read_timeout 3600s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


# Failure-testing timeouts, for the multi-replica tests and the chaos run (CARTSYNC_*
# names, lower-case): an upstream call gives up after 2 s, a lease lives 4 s (production:
# 30), a lost answer is resent after 3 s; rate limits out of the way of the load.
QUICK_FAILOVER = {
    "upstream_read_timeout_s": "2",
    "upstream_read_retries": "1",
    "lock_ttl_s": "4",
    "reconcile_grace_s": "3",
    "write_timeout_s": "20",
    "write_rate_limit_per_minute": "100000",
    "rate_limit_per_minute": "100000",
}


def replica_command(host: str, port: int) -> list[str]:
    """A replica's command after the interpreter: the container image's entrypoint and
    arguments are exactly these (a test holds ``deploy/Dockerfile`` to it)."""
    return ["-m", "cartsync", "serve", "--host", host, "--port", str(port)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        raise SystemExit("nginx is not installed: scripts/install-system-deps.sh installs it")
    return found


def _wait_for_redis(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until redis-server answers PING (after loading its append-only file, if any)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)


def _port_of(argv: list[str]) -> int:
    return int(argv[argv.index("--port") + 1])


def _wait_for(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start within 30 s") from None
            time.sleep(0.05)


@dataclass
class Stack:
    """The running stack; ``start()`` brings it up, ``stop()`` takes it down in reverse."""

    replicas: int = 2
    port: int = 0
    host: str = "127.0.0.1"
    latency: str = "realistic"
    settings: dict[str, str] = field(default_factory=dict)  # extra CARTSYNC_* settings
    # Redis as production runs it (append-only file, fsync every second, in ``workdir``,
    # read back by ``restart("redis")``); off: no persistence, a restart comes back empty.
    redis_persistence: bool = False
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cartsync-stack-")))
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(36))
    jwt_issuer: str = "https://stack.local"
    jwt_audience: str = "cartsync"
    guest_secret: str = field(default_factory=lambda: secrets.token_urlsafe(36))
    redis_url: str = ""
    storesim_url: str = ""
    replica_urls: list[str] = field(default_factory=list)
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def gateway_env(self) -> dict[str, str]:
        """The replicas' environment: this shell's, without its CARTSYNC_* settings."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("CARTSYNC_")}
        return {
            **inherited,
            "CARTSYNC_UPSTREAM_URL": self.storesim_url,
            "CARTSYNC_REDIS_URL": self.redis_url,
            "CARTSYNC_JWT_SECRET": self.jwt_secret,
            "CARTSYNC_JWT_ISSUER": self.jwt_issuer,
            "CARTSYNC_JWT_AUDIENCE": self.jwt_audience,
            "CARTSYNC_GUEST_SECRET": self.guest_secret,
            "CARTSYNC_LOG_FORMAT": "json",
            "CARTSYNC_TRUSTED_PROXIES": "127.0.0.1",  # nginx, on loopback
            **{f"CARTSYNC_{key.upper()}": value for key, value in self.settings.items()},
        }

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)  # noqa: S603
        self.processes.append((name, process))
        return process

    def start(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _redis_argv(self, port: int) -> list[str]:
        redis_server = shutil.which("redis-server") or "redis-server"
        argv = [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        if self.redis_persistence:
            argv += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            argv += ["--appendonly", "no"]
        return [*argv, "--dir", str(self.workdir)]

    def _start(self) -> None:
        redis_port = free_port()
        redis_process = self._spawn("redis", self._redis_argv(redis_port))
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        _wait_for_redis(redis_port, redis_process)
        sim_port = free_port()
        sim_argv = [sys.executable, "-m", "storesim", "--port", str(sim_port)]
        if self.latency != "off":
            sim_argv += ["--latency", self.latency]
        sim = self._spawn("storesim", sim_argv)
        self.storesim_url = f"http://127.0.0.1:{sim_port}"
        _wait_for(f"{self.storesim_url}/__sim/state", sim, "storesim")
        for _ in range(self.replicas):
            self.add_replica()
        if not self.port:
            self.port = free_port()
        servers = "\n".join(
            f"        server {url.removeprefix('http://')} max_fails=0;"
            for url in self.replica_urls
        )
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(workdir=self.workdir, servers=servers, host=self.host, port=self.port)
        )
        nginx = self._spawn(
            "nginx", [nginx_binary(), "-c", str(conf), "-p", str(self.workdir), "-g", "daemon off;"]
        )
        _wait_for(f"{self.url}/healthz", nginx, "nginx")

    def add_replica(self) -> str:
        """One more ``cartsync serve`` process on a free port; its URL once it serves.

        The balancer is configured once, at start: replicas added later are reached
        directly (tests use them to kill a replica mid-batch).
        """
        port = free_port()
        name = f"replica-{len(self.replica_urls) + 1}"
        replica = self._spawn(
            name,
            [sys.executable, *replica_command("127.0.0.1", port)],
            self.gateway_env(),
        )
        url = f"http://127.0.0.1:{port}"
        _wait_for(f"{url}/healthz", replica, name)
        self.replica_urls.append(url)
        return url

    def process(self, name: str) -> subprocess.Popen[bytes]:
        """The latest process of part ``name`` (``redis``, ``storesim``, ``replica-N``...)."""
        return next(process for part, process in reversed(self.processes) if part == name)

    def send_signal(self, name: str, signum: int, timeout: float = 40.0) -> int:
        """Send ``signum`` to part ``name`` and wait (up to ``timeout``) for it to exit;
        its exit status. ``restart(name)`` brings it back."""
        process = self.process(name)
        process.send_signal(signum)
        return process.wait(timeout=timeout)

    def restart(self, name: str) -> subprocess.Popen[bytes]:
        """Start part ``name`` (``redis`` or a replica) again once it has exited, with its
        own command: the same port, the same data directory (Redis comes back with what
        its append-only file holds, or empty without persistence). Returns once it
        serves; the new process takes the old one's place (``stop()`` keeps its order)."""
        index, (_, old) = next(
            (i, part) for i, part in reversed(list(enumerate(self.processes))) if part[0] == name
        )
        if old.poll() is None:
            raise RuntimeError(f"{name} is still running")
        argv = [str(arg) for arg in old.args]  # type: ignore[union-attr]
        if name == "redis":
            process = self._spawn(name, argv)
            _wait_for_redis(_port_of(argv), process)
        elif name.startswith("replica-"):
            process = self._spawn(name, argv, self.gateway_env())
            _wait_for(f"http://127.0.0.1:{_port_of(argv)}/healthz", process, name)
        else:
            raise ValueError(f"only redis and replicas restart, not {name}")
        self.processes.pop()
        self.processes[index] = (name, process)
        return process

    def stop(self) -> None:
        """SIGTERM to each process, newest first (the balancer before the replicas)."""
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack as Ctrl-C does


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--latency", default="realistic", help="storesim latency: realistic, off or a spec"
    )
    args = parser.parse_args()
    from cartsync.auth import issue_user_token
    from cartsync.cli import demo_session
    from cartsync.settings import Settings

    stack = Stack(replicas=args.replicas, port=args.port, host=args.host, latency=args.latency)
    signal.signal(signal.SIGTERM, _interrupt)
    stack.start()
    try:
        settings = Settings(
            upstream_url=stack.storesim_url,
            jwt_secret=stack.jwt_secret,
            jwt_issuer=stack.jwt_issuer,
            jwt_audience=stack.jwt_audience,
            guest_secret=stack.guest_secret,
        )
        token = issue_user_token(settings, "stack-user", ttl_s=24 * 3600)
        print(
            f"cartsync stack: nginx {stack.url} -> {', '.join(stack.replica_urls)}; "
            f"redis {stack.redis_url}; storesim {stack.storesim_url} (latency {args.latency}); "
            f"logs in {stack.workdir}. Ctrl-C stops it. A user token for 24 h:",
            demo_session(stack.url, token),
            sep="\n",
            flush=True,
        )
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
