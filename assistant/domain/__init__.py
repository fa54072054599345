"""The domain: what a customer profile is and the rules it follows, without Flask,
without SQL and without a clock (callers pass `now`).

- `customers`: customer ids and identities.
- `consent_ledger`: what may be recorded in the consent ledger and what a note's
  consent statement asks for.
- `facts`: stored facts, their views, corrections and supersession.
- `notes`: `plan_note`, the write path's decisions for one note (the sidebar preview
  shows the same plan the save carries out).
- `rights`: data-subject requests, erasure tombstones and retention.
- `events`: the events a change publishes.
- `errors`, `clock`: `ProfileError` and timestamps.

The services (`assistant.services`) carry plans out through the store.
"""
