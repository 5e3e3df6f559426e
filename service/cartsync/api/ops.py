"""``/healthz`` (alive, with upstream details) and ``/readyz`` (can serve: state store
reachable and not shutting down)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from ..carts.service import CartService
from ..state.port import StateStore, StateUnavailable


class OpsController(Controller):
    include_in_schema = True
    tags = ["operations"]

    @get("/healthz", operation_id="health", summary="The process is alive")
    async def health(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        service: CartService = request.app.state.service
        return {"status": "ok", "upstream": service.upstream_health()}

    @get("/readyz", operation_id="ready", summary="This replica can serve (state store reachable)")
    async def ready(self, request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
        state: StateStore = request.app.state.state
        service: CartService = request.app.state.service
        if service.draining:  # SIGTERM received: the balancer should stop sending here
            return Response({"status": "draining", "state": "ok"}, status_code=503)
        try:
            await state.ping()
        except StateUnavailable:
            return Response({"status": "unavailable", "state": "unreachable"}, status_code=503)
        return Response({"status": "ready", "state": "ok"})
