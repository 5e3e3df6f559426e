"""The stores behind cartsync: one adapter per store API (``storeapi``, ``cocart``), each
implementing the domain's port (``carts/ports/upstream.py``), over one HTTP client
(``_http.py``)."""
