#!/bin/sh
# The official image's default, which Debian's build does not have: no protected mode.
if [ "$1" = "redis-server" ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"
