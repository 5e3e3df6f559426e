"""The storesim application factory."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.handlers import asgi
from litestar.types import ControllerRouterHandler, Receive, Scope, Send

from .catalog import load_product_documents
from .cocart.control import CocartControl
from .control import ControlPlane
from .orders_control import OrdersControl
from .profiles import PROFILES
from .render import Renderer
from .sim import Sim, SimConfig
from .wordpress import WordPress


def create_app(config: SimConfig | None = None) -> Litestar:
    """A Litestar app serving the simulated store (the Store API and CoCart faces) and its
    ``/__sim/`` control plane."""
    sim = Sim(config or SimConfig())
    renderers = {
        name: Renderer(load_product_documents(profile.products_file))
        for name, profile in PROFILES.items()
    }
    wordpress = WordPress(sim, renderers)

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        await wordpress(scope, receive, send)  # type: ignore[arg-type]

    handlers: list[ControllerRouterHandler] = [
        asgi("/wp-json", is_mount=True, name="wp-json", copy_scope=False)(serve),
        asgi("/index.php", is_mount=True, name="index-php", copy_scope=False)(serve),
        asgi("/checkout", is_mount=True, name="checkout", copy_scope=False)(serve),
        asgi("/cart", is_mount=True, name="cart-page", copy_scope=False)(serve),
        asgi("/", name="root", copy_scope=False)(serve),
        ControlPlane,
        OrdersControl,
        CocartControl,
    ]
    return Litestar(
        route_handlers=handlers,
        state=State({"sim": sim, "wordpress": wordpress, "cocart": wordpress.cocart}),
        openapi_config=None,
    )
