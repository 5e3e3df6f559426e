"""storesim's second face: CoCart 4.4.0-beta.6 (``/wp-json/cocart/v2/...``).

Same cart engine and catalogue as the Store API face; CoCart's carts are their own
sessions, keyed by cart key (``store.py``). Modules: ``face`` (HTTP), ``routes``
(the route table), ``params`` (WordPress' argument checks), ``cart`` and ``customer``
(the operations), ``render`` (the cart body), ``products`` (catalogue documents),
``batch`` (WordPress' core batch), ``front`` (the load-cart URL), ``store`` (the carts).
"""

from .face import CoCart

__all__ = ["CoCart"]
