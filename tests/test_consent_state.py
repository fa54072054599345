"""The effective consent state (assistant/consent_state.py), pure: no database (issue 15)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from assistant import consent_state
from assistant.consent import ConsentRecord, ConsentState
from assistant.consent_state import PURPOSE_STATUSES, effective, purpose_state
from assistant.policy import load_policy
from tests.consent_cases import COMBINATIONS, NAMED, NOW, PURPOSE, Case, Record, timed

POLICY = load_policy()


def ledger(records: tuple[Record, ...], purpose: str = PURPOSE) -> ConsentState:
    return ConsentState(
        tuple(
            ConsentRecord(
                id=i + 1,
                customer_id="c-1",
                purpose=purpose,
                channel=channel,
                status=status,
                lawful_basis="consent",
                source="agent",
                method="verbal",
                evidence={},
                effective_from=at,
                effective_to=until,
                recorded_at=at,
            )
            for i, (channel, status, at, until) in enumerate(timed(records))
        )
    )


@pytest.mark.parametrize("case", NAMED, ids=lambda c: c.id)
def test_named_ledgers_add_up_to_one_state(case: Case) -> None:
    state = purpose_state(ledger(case.records), POLICY.purposes[PURPOSE], NOW)
    assert (state.status, state.summary) == (case.status, case.summary)


@pytest.mark.parametrize("records", COMBINATIONS, ids=lambda r: Case(r, "", "").id)
def test_every_combination_is_coherent(records: tuple[Record, ...]) -> None:
    """Whatever the ledger, the purpose never contradicts its channels."""
    state = purpose_state(ledger(records), POLICY.purposes[PURPOSE], NOW)
    assert state.status in PURPOSE_STATUSES
    if state.granted_channels or state.purpose_wide.granted:
        assert state.status in ("granted", "partial")
        assert state.summary.startswith("Granted")
    else:
        assert state.status not in ("granted", "partial")
        assert not state.summary.startswith("Granted")
    for channel in ("email", "sms", "post"):
        # The channel state is what consent.may_use_channel enforces.
        current = ledger(records).current(PURPOSE, channel, NOW)
        assert state.channel(channel).granted == (
            current is not None and current.status == "granted"
        )


def test_a_purpose_needing_no_consent_is_not_needed_until_objected() -> None:
    service = POLICY.purposes["service"]
    assert purpose_state(ledger((), "service"), service, NOW).summary == "No consent needed"
    objected = purpose_state(ledger(((None, "withdrawn"),), "service"), service, NOW)
    assert (objected.status, objected.summary) == ("objected", "Objected")
    by_phone = purpose_state(ledger((("phone", "withdrawn"),), "service"), service, NOW)
    assert by_phone.summary == "No consent needed; objected to phone calls"


def test_withdrawing_all_ends_consents_but_is_no_objection() -> None:
    everything = ConsentRecord(
        id=9, customer_id="c-1", purpose="all", channel=None, status="withdrawn",
        lawful_basis="consent", source="agent", method="verbal", evidence={},
        effective_from=NOW, effective_to=None, recorded_at=NOW,
    )  # fmt: skip
    records = (*ledger(((None, "granted"),), "personalization").records, everything)
    states = effective(ConsentState(records), POLICY, NOW)
    assert states["personalization"].status == "withdrawn"
    assert states["service"].status == "not_needed"


def test_a_grant_with_an_end_says_until_when() -> None:
    record = ledger(((None, "granted"),)).records[0]
    until = NOW.replace(year=2027)
    longer = ConsentState((ConsentRecord(**{**_fields(record), "effective_to": until}),))
    state = purpose_state(longer, POLICY.purposes[PURPOSE], NOW)
    assert state.summary == "Granted until 1 Mar 2027"
    assert state.to_dict()["expires_at"] == "2027-03-01T12:00:00+00:00"


def test_askable_channels_leave_out_the_granted_ones() -> None:
    state = purpose_state(ledger((("email", "granted"),)), POLICY.purposes[PURPOSE], NOW)
    assert "email" not in state.askable_channels and "sms" in state.askable_channels
    assert state.covers("email") and not state.covers("sms") and not state.covers(None)


def _fields(record: ConsentRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__slots__}


def test_the_module_does_no_io_and_reads_no_clock() -> None:
    """A pure domain module: no Flask, no SQL, no clock (the caller passes `at`)."""
    tree = ast.parse(Path(consent_state.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    stdlib = {"__future__", "collections.abc", "dataclasses", "datetime", "typing"}
    assert imported <= stdlib | {".consent", ".policy"}
    forbidden = {"now", "utcnow", "today", "time", "open", "print", "input", "read_text"}
    called = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert not called & forbidden
