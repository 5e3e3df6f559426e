"""The store behind cartsync: a small port and one adapter per store API."""
