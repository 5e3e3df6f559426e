"""The Store API checkout: draft orders, ``/checkout``, ``/checkout/{id}`` and ``/order/{id}``.

``orders`` is the store's orders table, ``flow`` the checkout and pay-for-order rules,
``addresses`` the address checks, ``render`` the CheckoutSchema and OrderSchema bodies,
``routes`` the route table of each WooCommerce profile.
"""
