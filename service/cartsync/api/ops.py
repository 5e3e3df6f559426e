"""``/healthz`` (alive, with upstream details) and ``/readyz`` (can serve: state store
reachable and not shutting down)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from ..carts.ports.state import StateUnavailable
from ..carts.service import CartService
from .docs import ok


class OpsController(Controller):
    include_in_schema = True
    tags = ["operations"]

    @get("/healthz", operation_id="health", summary="The process is alive")
    async def health(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        service: CartService = request.app.state.service
        return {"status": "ok", "upstream": service.upstream_health()}

    @get(
        "/readyz",
        operation_id="ready",
        summary="This replica can serve (state store reachable)",
        responses={
            503: ok(
                dict[str, str],
                "Not ready: draining (SIGTERM received) or the state store is unreachable",
            )
        },
    )
    async def ready(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        service: CartService = request.app.state.service
        if service.draining:  # SIGTERM received: the balancer should stop sending here
            return Response({"status": "draining", "state": "ok"}, status_code=503)
        try:
            await service.ready()
        except StateUnavailable:
            return Response({"status": "unavailable", "state": "unreachable"}, status_code=503)
        return Response({"status": "ready", "state": "ok"})
