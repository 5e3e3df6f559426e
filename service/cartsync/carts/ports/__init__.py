"""The domain's ports: what it needs from a store (``upstream``) and from its state
store (``state``). Adapters implement them; the domain imports no adapter."""
