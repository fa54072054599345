"""Issue 15 in the domain and the CLI: a correction supersedes a fact with its own
provenance; a grant already in force asks nothing; `trustline profile` shows the one
consent state and the proposals waiting for confirmation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

from assistant import services
from assistant.cli import main
from assistant.domain.errors import ProfileError
from assistant.policy import load_policy
from assistant.sidebar.composer import unsupported_language
from assistant.sidebar.labels import as_written, fact_label
from assistant.store.sqlite.db import connect, row, rows
from nlp import Extractor

POLICY = load_policy()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    handle = connect(app.config["TRUSTLINE_DATABASE"])
    services.upsert_customer(handle, "c-1", actor="test", name="Ada")
    services.record_consent(
        handle, POLICY, "c-1", purpose="personalization", status="granted", actor="test",
        source="agent", method="verbal", evidence={"agent": "test"},
    )  # fmt: skip
    yield handle
    handle.conn.close()


def note(db: Any, extractor: Extractor, text: str) -> dict[str, Any]:
    return services.ingest_note(db, extractor, POLICY, "c-1", text, agent="agent-7")


def test_a_correction_supersedes_the_fact_with_its_own_provenance(
    db: Any, extractor: Extractor
) -> None:
    (old,) = note(db, extractor, "Interested in Nike running shoes.")["facts"]
    new = services.correct_fact(
        db, POLICY, "c-1", old["id"], {"value": "Adidas trail shoes"}, actor="agent-9",
        reason="she said Adidas",
    )  # fmt: skip
    assert new["value"] == "Adidas trail shoes" and new["id"] != old["id"]
    assert new["provenance"]["agent"] == "agent-9"
    assert new["provenance"]["extractor"] == "correction"
    assert new["provenance"]["evidence"] == old["provenance"]["evidence"]  # read from there
    decision = row(db, "SELECT * FROM decisions WHERE id = ?", [new["provenance"]["decision_id"]])
    assert decision is not None and decision["reason"] == "consent_granted"
    superseded = row(db, "SELECT superseded_by FROM facts WHERE id = ?", [old["id"]])
    assert superseded == {"superseded_by": new["id"]}
    view = services.profile(db, POLICY, "c-1")
    assert [f["value"] for f in view["preferences"]] == ["Adidas trail shoes"]
    types = [e["type"] for e in rows(db, "SELECT type FROM events ORDER BY id")]
    assert types[-2:] == ["profile.preference.removed", "profile.preference.added"]
    (entry,) = rows(db, "SELECT * FROM audit_log WHERE action = 'fact.corrected'")
    assert "she said Adidas" not in str(entry)  # a digest only
    with pytest.raises(ProfileError) as again:
        services.correct_fact(db, POLICY, "c-1", old["id"], {"value": "x"}, actor="a")
    assert again.value.status == 409


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"field": "size"}, "not_correctable"),
        ({"value": "  "}, "empty_value"),
        ({"value": "nike running shoe"}, "no_change"),
        ({"polarity": "maybe"}, "invalid_polarity"),
    ],
)
def test_a_correction_must_change_a_correctable_value(
    db: Any, extractor: Extractor, changes: dict[str, str], code: str
) -> None:
    (fact,) = note(db, extractor, "Interested in Nike running shoes.")["facts"]
    with pytest.raises(ProfileError) as failed:
        services.correct_fact(db, POLICY, "c-1", fact["id"], changes, actor="a")
    assert failed.value.code == code


def test_a_complaint_is_corrected_to_another_category(db: Any, extractor: Extractor) -> None:
    (fact,) = note(db, extractor, "Parcel arrived late, very unhappy.")["facts"]
    new = services.correct_fact(db, POLICY, "c-1", fact["id"], {"category": "billing"}, actor="a")
    assert new["category"] == "billing" and new["status"] == "open"
    with pytest.raises(ProfileError):
        services.correct_fact(db, POLICY, "c-1", new["id"], {"category": "weather"}, actor="a")


def test_a_grant_already_in_force_makes_no_proposal(db: Any, extractor: Extractor) -> None:
    """Issue 15: "OK to send offers by email" when e-mail marketing is granted."""
    services.record_consent(
        db, POLICY, "c-1", purpose="marketing", channel="email", status="granted",
        actor="test", source="agent", method="verbal", evidence={"agent": "test"},
    )  # fmt: skip
    assert note(db, extractor, "OK to send offers by email")["consent_proposals"] == []
    proposed = note(db, extractor, "Happy for us to text her about offers.")
    assert [p["channel"] for p in proposed["consent_proposals"]] == ["sms"]
    types = [e["type"] for e in rows(db, "SELECT type FROM events ORDER BY id")]
    assert types[-1] == "consent.proposed"  # open sidebars show it at once


def test_cli_profile_shows_the_consent_state_and_pending_proposals(
    app: Flask, db: Any, extractor: Extractor
) -> None:
    note(db, extractor, "Happy for us to text her about offers.")
    env = {**os.environ, "TRUSTLINE_DATABASE": app.config["TRUSTLINE_DATABASE"]}
    out = CliRunner().invoke(main, ["profile", "c-1"], env=env)
    assert out.exit_code == 0, out.output
    lines = [line.strip() for line in out.output.splitlines()]
    assert "personalization          Granted" in lines
    assert "marketing                Never asked" in lines
    assert "service                  No consent needed" in lines
    assert "Consent to confirm:" in lines
    assert any(line.startswith("#1 marketing by sms") for line in lines)


@pytest.mark.parametrize(
    ("value", "evidence", "shown"),
    [
        ("nike running shoe", "Interested in Nike running shoes.", "Nike running shoes"),
        ("chess set", "likes chess sets", "chess sets"),
        ("b chess sets</b", "likes <b>chess sets</b> and <i>knives</i>.", "chess sets"),
        ("knife", "likes knives", "knife"),  # not found as written: the value itself
        ("<i>vinyl</i>", "", "vinyl"),
    ],
)
def test_labels_use_the_customers_words_without_markup(
    value: str, evidence: str, shown: str
) -> None:
    assert as_written(value, evidence) == shown
    label = fact_label("preference", {"field": "interest", "value": value}, evidence)
    assert label == f"Interest: {shown}" and "<" not in label


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("La cliente préfère être contactée par courriel, pas d'appels.", "French"),
        ("Der Kunde möchte keine Anrufe und bitte nur E-Mail.", "German"),
        ("Quiere que la llamen por la mañana, no por email.", "Spanish"),
        ("Prefers email, no calls. Parcel late.", None),
        ("Likes le creuset pans and the la perla range.", None),
    ],
)
def test_a_note_not_in_english_is_recognised(text: str, language: str | None) -> None:
    assert unsupported_language(text) == language


def test_a_grant_closes_the_proposals_it_answers(db: Any, extractor: Extractor) -> None:
    (proposal,) = note(db, extractor, "Happy for us to text her about offers.")["consent_proposals"]
    record = services.record_consent(
        db, POLICY, "c-1", purpose="marketing", channel="sms", status="granted",
        actor="agent-7", source="agent", method="verbal", evidence={"agent": "agent-7"},
    )  # fmt: skip
    assert services.profile(db, POLICY, "c-1")["consent_proposals"] == []
    closed = row(
        db, "SELECT status, consent_id FROM consent_proposals WHERE id = ?", [proposal["id"]]
    )
    assert closed == {"status": "granted", "consent_id": record["id"]}
