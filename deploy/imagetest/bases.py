"""The base images the Dockerfile and the compose file start from: the engine's own or
pulled when a registry answers, otherwise stand-ins built under the same names from a
debootstrapped Debian minbase (one debootstrap for all, cached by a recipe label, so a
machine that reaches no registry still runs the whole test)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .engine import DEPLOY, LABEL, Engine, Failed, log, run_command

STAND_INS = DEPLOY / "stand-ins"

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
        run_command(
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
        run_command(
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
