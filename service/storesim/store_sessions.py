"""The Store API's sessions: which one a request works on, the nonce rule, and the session
headers and cookies of an answer.

A valid Cart-Token names the session; without one a ``wp_woocommerce_session_*`` cookie
does (a web session a CoCart load-cart URL made included); else a new guest session
starts. Writes need the ``Nonce`` header; on 9.9.5 a valid Cart-Token exempts them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from .cart import CartState
from .cocart.render import CartView
from .cocart.store import load_web_session, save_web_session
from .errors import StoreError
from .http import HttpRequest, session_cookie_name
from .sessions import Session
from .sim import Sim
from .tokens import new_guest_id


def cart_hash(state: CartState) -> str:
    """``WC_Cart::get_cart_hash``: md5 of the session's cart and its total ("" if empty)."""
    return CartView(state, "", "", {}).cart_hash()


class SessionDesk:
    """Opens, saves and describes the sessions of one simulated store."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    def open(self, request: HttpRequest, token_user: str | None) -> Session:
        if token_user is not None:
            return Session(token_user, False, self.sim.load(token_user))
        cookie = request.cookies.get(session_cookie_name(request.site), "")
        user_id = cookie.split("||", 1)[0]
        if user_id and user_id in self.sim.sessions:
            return Session(user_id, True, self.sim.load(user_id))
        web = load_web_session(self.sim, user_id) if user_id else None
        if web is not None:
            return Session(user_id, True, web, cocart=True)
        return Session(new_guest_id(), True, CartState())

    def save(self, session: Session) -> None:
        if session.cocart:
            save_web_session(self.sim, session.user_id, session.state)
        else:
            self.sim.save(session.user_id, session.state)

    @contextlib.asynccontextmanager
    async def serialised(self, user_id: str | None) -> AsyncIterator[None]:
        """With the race switched off, one request per session at a time."""
        if self.sim.race or user_id is None:
            yield
            return
        async with self.sim.lock(user_id):
            yield

    def nonce_error(self, headers: dict[str, str]) -> StoreError | None:
        """The nonce check of a write; ``headers`` are the request's (a batch entry's own)."""
        if self.sim.profile.token_skips_nonce:
            token = headers.get("cart-token")
            if self.sim.signer.valid_user(token, self.sim.now()) is not None:
                return None
        nonce = headers.get("nonce") or headers.get("x-wc-store-api-nonce")
        if not nonce:
            return StoreError(
                "woocommerce_rest_missing_nonce",
                "Missing the Nonce header. This endpoint requires a valid nonce.",
                401,
            )
        if not self.sim.nonces.is_valid(nonce, self.sim.now()):
            return StoreError("woocommerce_rest_invalid_nonce", "Nonce is invalid.", 403)
        return None

    def headers(self, session: Session) -> list[tuple[str, str]]:
        """``Nonce``, ``Nonce-Timestamp``, ``User-ID``, ``Cart-Token`` and the version's
        extra: ``X-WC-Store-API-Nonce`` (8.9.1) or ``Cart-Hash`` (9.9.5)."""
        now = self.sim.now()
        nonce = self.sim.nonces.current(now)
        headers = [
            ("Nonce", nonce),
            ("Nonce-Timestamp", str(int(now))),
            ("User-ID", "0"),
            ("Cart-Token", self.sim.signer.issue(session.user_id, now)),
        ]
        if self.sim.profile.cart_hash_header:
            headers.append(("Cart-Hash", cart_hash(session.state)))
        if self.sim.profile.legacy_nonce_header:
            headers.append(("X-WC-Store-API-Nonce", nonce))
        return headers

    def cookies(self, session: Session, site: str, write: bool) -> list[tuple[str, str]]:
        if not write or session.state.is_empty():
            return []
        digest = cart_hash(session.state)
        cookies = [
            ("Set-Cookie", "woocommerce_items_in_cart=1; path=/"),
            ("Set-Cookie", f"woocommerce_cart_hash={digest}; path=/"),
        ]
        if session.cookie:
            expiry = int(self.sim.now()) + 172800
            value = f"{session.user_id}||{expiry}||{expiry - 3600}||{digest}"
            name = session_cookie_name(site)
            cookies.append(("Set-Cookie", f"{name}={value}; Max-Age=172800; path=/; HttpOnly"))
        return cookies
