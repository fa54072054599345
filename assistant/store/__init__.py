"""Storage: the interface the services use (`interface.Store`) and its
implementations beside each other, `sqlite/` (the embedded default) and `postgres/`.
`open.open_store(value)` opens the one a TRUSTLINE_DATABASE value names (a
`postgresql://` URL or a SQLite file's path), migrated."""
