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
