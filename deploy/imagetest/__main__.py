"""`python -m deploy.imagetest` (`make image-test`): the command line, and the order of the
runs: the image's own base first, the build and one container while the other bases come,
then the compose stack; exit 1 at the first check that fails."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deploy import imagetest

from .bases import base_images, ensure_bases, qualify
from .engine import PROJECT, Failed, clean, docker_engine, log, podman_engine
from .runs import Figures, build, compose_stack, one_container


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(imagetest.__doc__ or "").splitlines()[0])
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
