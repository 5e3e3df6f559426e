"""``make chaos``: shoppers write through two replicas while Redis, the replicas and the
store fail under them; every acknowledged write is then looked for in the final carts.

    python -m bench.chaos [--shoppers 50] [--writes 20] [--mode both|persistent|volatile]
                          [--quick] [--seed 11] [--workdir DIR] [--json FILE]
                          [--set NAME=VALUE ...]   (a gateway setting: lock_ttl_s=30)

Each mode runs the local stack (``deploy/local/stack.py``): one redis-server; storesim as
a real server with its realistic latency (80±20 ms a call, a batch 60 + 15 ms a
sub-request), the session race on, and on every store route 5 % 500s, 2 % hangs of 3 s
and 1 % dropped connections, all striking after the cart changed; two replicas
(``python -m cartsync serve``, one worker each). Every shopper is a user of its own
(its own JWT) making its writes one after the other: adds of one unit, quantity sets on
a line its cart shows, coupons applied and removed, each with its own Idempotency-Key
and sent again (same key) until it is answered 2xx (acknowledged: into the shopper's
ledger) or refused with a 4xx. Writes alternate between the replicas; a connection
error or a 5xx sends the retry to the other one. The client protocol after a loss is
in ``settle``.

As the acknowledged writes pass 20 %, 45 % and 70 % of all: Redis is killed (SIGKILL),
left down ``OUTAGE_S`` and started again; replica 1 is killed (SIGKILL) and restarted;
replica 2 is told to stop (SIGTERM) and restarted once it has exited. ``persistent``:
Redis with ``--appendonly yes --appendfsync everysec``, restarted on the same data
directory; ``volatile``: no persistence, so it comes back empty. At the end, faults
off, each shopper reads its cart through the gateway, and the store's own copy is read
with the cart's Cart-Token. The figures are defined in ``DEFINITIONS`` (printed with
them). Exit status 1 when a goal is missed. The work directory keeps, per mode, the
logs of every process and ``chaos.json`` (figures, events, every ledger): attempts are
sent with ``X-Request-ID: s<shopper>-w<write>-a<attempt>``, which the replicas log.
"""
