"""Storage: the interface the services use (`interface.Store`) and its
implementations beside each other, `sqlite/` (the embedded default) and `postgres/`."""
