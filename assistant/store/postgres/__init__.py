"""PostgreSQL storage (TRUSTLINE_DATABASE=postgresql://...), for several hosts sharing one
database: the pool and its clear errors (connection), named migrations, per-customer
write serialisation (writes), commit-ordered events with LISTEN/NOTIFY (events), the
hash-chained audit log (audit) and the webhook outbox's leases (outbox). Small functions
over a psycopg connection; docs/postgres.md describes the design."""
