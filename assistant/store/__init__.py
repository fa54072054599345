"""The embedded store: SQLite through sqlite-utils, schema by named migrations."""
