"""Everything kept between requests: registry, tokens, snapshots, locks, limits."""
