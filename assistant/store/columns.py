"""The columns both engines write, in the order their INSERT statements list them: one
list per table, so that the SQLite and PostgreSQL stores cannot drift apart."""

# Data-subject requests (table `dsr`).
REQUEST_COLUMNS = (
    "customer_id",
    "kind",
    "note_id",
    "created_at",
    "due_at",
    "channel",
    "fact_id",
    "details",
)
DECISION_COLUMNS = (
    "customer_id",
    "note_id",
    "fact_kind",
    "fact_key",
    "outcome",
    "purpose",
    "lawful_basis",
    "reason",
    "consent_record_id",
    "policy_version",
    "created_at",
)
FACT_COLUMNS = (
    "customer_id",
    "note_id",
    "kind",
    "field",
    "value",
    "polarity",
    "category",
    "status",
    "attrs",
    "evidence_start",
    "evidence_end",
    "evidence_text",
    "extractor",
    "model_version",
    "confidence",
    "agent",
    "purpose",
    "lawful_basis",
    "decision_id",
    "created_at",
)
