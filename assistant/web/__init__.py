"""The bottom of the web layer: what every view, blueprint and handler shares and that
imports nothing of the assistant above it (only the error-code registry).

- `problems`: problem documents (RFC 9457), `ApiError`, the HTTP-error renderer.
- `inputs`: reading a request: strict JSON bodies, integer ids within SQLite's range.
- `storage`: the 503 answered when the database cannot be used.

Nothing below the web layer (the domain, the services, the store) imports it
(tests/test_layers_web.py).
"""
