"""Pure decisions of the webhooks (issue 5): retry verdicts, the SSRF address policy,
settings parsing, and what inbound CRM and Chatwoot messages ask for."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

import pytest

from assistant import settings
from assistant.webhooks import chatwoot, messages
from assistant.webhooks.actions import (
    ConsentChange,
    ContactUpdate,
    ConversationStatus,
    Ignore,
    InvalidMessage,
    LinkIdentity,
    Note,
    UnlinkIdentity,
)
from assistant.webhooks.config import (
    WebhookConfigError,
    delivery_config,
    inbound_config,
    parse_networks,
    parse_schedule,
)
from assistant.webhooks.network import RefusedAddress, checked_addresses, why_refused
from assistant.webhooks.retry import judge
from assistant.webhooks.transport import Outcome, parse_retry_after


def config(**overrides: Any) -> Any:
    values = settings.current() | overrides
    return delivery_config(values)


# -- retries -------------------------------------------------------------------------------


def test_the_default_schedule_is_the_standard_webhooks_one() -> None:
    cfg = config()
    assert cfg.schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert cfg.max_attempts == 8


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert judge(Outcome(status), 1, config(), now=0).status == "delivered"


@pytest.mark.parametrize("status", [None, 301, 302, 307, 400, 404, 429, 500, 502, 503, 504])
def test_anything_else_is_retried_on_schedule(status: int | None) -> None:
    cfg = config(TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT=0)
    verdict = judge(Outcome(status, None if status else "timed out"), 2, cfg, now=1000.0)
    assert verdict.status == "pending"
    assert verdict.next_attempt_at == 1000.0 + 300  # the third attempt waits 5 minutes


def test_redirects_are_failures_that_say_so() -> None:
    verdict = judge(Outcome(302), 1, config(), now=0)
    assert verdict.status == "pending" and "redirects are not followed" in verdict.note


def test_jitter_adds_at_most_its_share() -> None:
    cfg = config(TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT=10)
    rng = random.Random(1)
    delays = [judge(Outcome(500), 1, cfg, now=0, rng=rng).next_attempt_at for _ in range(200)]
    assert all(d is not None and 5.0 <= d <= 5.5 for d in delays)
    assert len(set(delays)) > 100


def test_410_disables_the_subscription() -> None:
    verdict = judge(Outcome(410), 1, config(), now=0)
    assert verdict.status == "dead" and verdict.disable_subscription


def test_the_last_attempt_makes_a_dead_letter() -> None:
    assert judge(Outcome(500), 8, config(), now=0).status == "dead"
    assert judge(Outcome(500), 7, config(), now=0).status == "pending"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_and_capped(status: int) -> None:
    cfg = config(TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT=0, TRUSTLINE_WEBHOOK_MAX_RETRY_AFTER=600)
    assert judge(Outcome(status, retry_after=120), 1, cfg, now=0).next_attempt_at == 120
    assert judge(Outcome(status, retry_after=1), 2, cfg, now=0).next_attempt_at == 300
    assert judge(Outcome(status, retry_after=99999), 1, cfg, now=0).next_attempt_at == 600


def test_retry_after_is_ignored_on_other_statuses() -> None:
    cfg = config(TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT=0)
    assert judge(Outcome(500, retry_after=120), 1, cfg, now=0).next_attempt_at == 5


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("120", now=0) == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None


def test_max_attempts_beyond_the_schedule_repeat_its_last_delay() -> None:
    cfg = config(
        TRUSTLINE_WEBHOOK_RETRY_SCHEDULE="0,1,2",
        TRUSTLINE_WEBHOOK_MAX_ATTEMPTS=5,
        TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT=0,
    )
    assert [cfg.delay_before(n) for n in range(1, 6)] == [0, 1, 2, 2, 2]


# -- the SSRF address policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.5.5.5",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused_without_an_allow_list(address: str) -> None:
    assert why_refused(ipaddress.ip_address(address), []) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert why_refused(ipaddress.ip_address(address), []) is None


@pytest.mark.parametrize(
    "address",
    [
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "::ffff:0:127.0.0.1",  # IPv4-translated (SIIT)
        "64:ff9b::127.0.0.1",  # NAT64, well-known prefix
        "64:ff9b::169.254.169.254",
        "64:ff9b:1::7f00:1",  # NAT64, local-use prefix
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "2001:0:7f00:1:8000:63bf:7bff:fffe",  # Teredo, server 127.0.0.1
        "2606:4700::5efe:7f00:1",  # ISATAP, interface id of 127.0.0.1
        "2606:4700::200:5efe:a00:1",  # ISATAP, 10.0.0.1
    ],
)
def test_ipv6_forms_of_a_refused_ipv4_address_are_refused(address: str) -> None:
    # issue 12, item 12: these passed the guard
    reason = why_refused(ipaddress.ip_address(address), [])
    assert reason is not None
    assert "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS" in reason
    with pytest.raises(RefusedAddress):
        checked_addresses(address, 443, [], lambda host, port: [])


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::8.8.8.8", "2002:808:808::1", "2606:4700::5efe:808:808", "::ffff:8.8.8.8"],
)
def test_ipv6_forms_of_a_public_ipv4_address_are_allowed(address: str) -> None:
    assert why_refused(ipaddress.ip_address(address), []) is None


def test_the_allow_list_opens_exactly_its_networks() -> None:
    allowed = parse_networks("127.0.0.0/8, 10.20.0.0/16")
    assert why_refused(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert why_refused(ipaddress.ip_address("::ffff:127.0.0.1"), allowed) is None
    assert why_refused(ipaddress.ip_address("10.20.3.4"), allowed) is None
    assert why_refused(ipaddress.ip_address("10.21.3.4"), allowed) is not None
    assert why_refused(ipaddress.ip_address("::1"), allowed) is not None


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    def resolver(answers: list[str]) -> Any:
        return lambda host, port: answers

    public = resolver(["93.184.216.34"])
    assert checked_addresses("hooks.example", 443, [], public) == ["93.184.216.34"]
    with pytest.raises(RefusedAddress, match="loopback"):
        checked_addresses("rebind.example", 443, [], resolver(["127.0.0.1"]))
    with pytest.raises(RefusedAddress):
        checked_addresses("mixed.example", 443, [], resolver(["93.184.216.34", "10.0.0.7"]))
    with pytest.raises(RefusedAddress, match="link-local"):
        checked_addresses("169.254.169.254", 80, [], public)  # literals are not resolved


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/33"),
        ("TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS", "intranet"),
        ("TRUSTLINE_WEBHOOK_RETRY_SCHEDULE", ""),
        ("TRUSTLINE_WEBHOOK_RETRY_SCHEDULE", "0,5,later"),
        ("TRUSTLINE_WEBHOOK_RETRY_SCHEDULE", "0,-5"),
        ("TRUSTLINE_WEBHOOK_RETRY_JITTER_PERCENT", 101),
        ("TRUSTLINE_WEBHOOK_MAX_ATTEMPTS", 0),
        ("TRUSTLINE_WEBHOOK_CONCURRENCY", 0),
    ],
)
def test_bad_delivery_settings_stop_start_up_naming_the_setting(name: str, value: Any) -> None:
    with pytest.raises(WebhookConfigError, match=name):
        config(**{name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRUSTLINE_INBOUND_SECRETS", "crm"),
        ("TRUSTLINE_INBOUND_SECRETS", "crm=secret"),
        ("TRUSTLINE_INBOUND_SECRETS", "crm=whsec_c2hvcnQ="),  # 5 bytes
        ("TRUSTLINE_INBOUND_SECRETS", "CRM!=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("TRUSTLINE_INBOUND_SECRETS", "chatwoot=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("TRUSTLINE_INBOUND_TOLERANCE_SECONDS", 301),
    ],
)
def test_bad_inbound_settings_stop_start_up_naming_the_setting(name: str, value: Any) -> None:
    with pytest.raises(WebhookConfigError, match=name):
        inbound_config(settings.current() | {name: value})


def test_inbound_sources_may_list_two_secrets_during_a_rotation() -> None:
    a, b = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + "A" * 40
    parsed = inbound_config(
        settings.current()
        | {
            "TRUSTLINE_INBOUND_SECRETS": f"crm={a}, crm={b},helpdesk={a}",
            "TRUSTLINE_CHATWOOT_SECRET": "x,y",
        }
    )
    assert parsed.sources == {"crm": (a, b), "helpdesk": (a,)}
    assert parsed.known("crm") and parsed.known("chatwoot") and not parsed.known("other")


def test_schedules_take_decimal_seconds() -> None:
    assert parse_schedule("0, 0.05,1") == (0.0, 0.05, 1.0)


# -- inbound messages of a CRM (Standard Webhooks) ----------------------------------------------


def test_a_crm_note_is_an_agent_note() -> None:
    action = messages.interpret(
        {
            "type": "note.created",
            "data": {"external_id": "4711", "text": "Prefers email.", "author": "ann"},
        }
    )
    assert isinstance(action, Note)
    assert action.customer.external_id == "4711" and action.author == "ann"


def test_a_customer_message_is_the_customers_own_words() -> None:
    action = messages.interpret(
        {"type": "message.received", "data": {"customer_id": "c-1", "text": "no calls pls"}}
    )
    assert isinstance(action, Note) and action.author == "customer"


def test_identity_and_consent_messages() -> None:
    link = messages.interpret(
        {"type": "identity.linked", "data": {"customer_id": "c-1", "external_id": 4711}}
    )
    assert isinstance(link, LinkIdentity) and link.external_id == "4711"
    unlink = messages.interpret(
        {"type": "identity.unlinked", "data": {"customer_id": "c-1", "external_id": "4711"}}
    )
    assert isinstance(unlink, UnlinkIdentity)
    consent = messages.interpret(
        {
            "type": "consent.changed",
            "data": {
                "external_id": "4711",
                "purpose": "marketing",
                "status": "withdrawn",
                "channel": "email",
                "wording": "Send me offers",
                "effective_from": "2025-01-01T00:00:00+00:00",
            },
        }
    )
    assert isinstance(consent, ConsentChange)
    assert consent.evidence == {"wording": "Send me offers"}


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"data": {}},
        {"type": "note.created"},
        {"type": "note.created", "data": {"text": "x"}},
        {"type": "note.created", "data": {"customer_id": "c", "text": 5.5}},
        {"type": "identity.linked", "data": {"customer_id": "c"}},
        {
            "type": "consent.changed",
            "data": {"customer_id": "c", "purpose": "m", "status": "maybe"},
        },
        {
            "type": "consent.changed",
            "data": {
                "customer_id": "c",
                "purpose": "m",
                "status": "granted",
                "effective_from": "2025-01-01",
            },
        },
    ],
)
def test_invalid_crm_messages(payload: Any) -> None:
    with pytest.raises(InvalidMessage):
        messages.interpret(payload)


def test_unknown_crm_message_types_are_ignored() -> None:
    assert isinstance(messages.interpret({"type": "deal.won", "data": {}}), Ignore)


# -- Chatwoot payloads (fields as in Chatwoot's webhook documentation) -------------------------


def chatwoot_message(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event": "message_created",
        "id": 118,
        "content": "hi, please stop calling me",
        "created_at": "2021-07-23T18:02:48.000Z",
        "message_type": "incoming",
        "content_type": "text",
        "private": False,
        "content_attributes": {},
        "source_id": None,
        "sender": {"id": 14, "name": "little-haze-776", "avatar": "", "type": "contact"},
        "inbox": {"id": 1, "name": "Acme Support"},
        "conversation": {
            "id": 10,
            "inbox_id": 1,
            "status": "open",
            "contact_inbox": {"id": 12, "contact_id": 14, "inbox_id": 1},
            "meta": {
                "sender": {
                    "id": 14,
                    "name": "little-haze-776",
                    "email": None,
                    "phone_number": None,
                    "identifier": None,
                    "type": "contact",
                },
                "assignee": {"id": 1, "name": "John", "type": "user"},
            },
        },
        "account": {"id": 1, "name": "Acme Inc"},
    }
    payload.update(changes)
    return payload


def test_chatwoot_incoming_messages_are_customer_text() -> None:
    action = chatwoot.interpret(chatwoot_message())
    assert isinstance(action, Note)
    assert action.author == "customer" and action.conversation == "1:10"  # keyed on the account
    assert action.customer.external_id == "14" and action.customer.create


def test_chatwoot_private_notes_are_agent_notes_about_the_conversations_contact() -> None:
    agent = {"id": 1, "name": "John", "email": "john@acme.inc", "type": "user"}
    action = chatwoot.interpret(
        chatwoot_message(
            message_type="outgoing", private=True, sender=agent, content="cust prefers sms"
        )
    )
    assert isinstance(action, Note)
    assert action.author == "chatwoot-agent-1" and action.customer.external_id == "14"


@pytest.mark.parametrize(
    "changes",
    [
        {"message_type": "outgoing", "sender": {"id": 1, "type": "user"}},
        {"message_type": 1},
        {"message_type": "activity", "content": "Conversation was resolved by John"},
        {"message_type": "template"},
        {"content_type": "input_email"},
        {"content": None},
    ],
)
def test_chatwoot_agent_replies_and_non_text_are_ignored(changes: dict[str, Any]) -> None:
    assert isinstance(chatwoot.interpret(chatwoot_message(**changes)), Ignore)


def test_chatwoot_numeric_incoming_type() -> None:
    assert isinstance(chatwoot.interpret(chatwoot_message(message_type=0)), Note)


def test_chatwoot_contact_updated_maps_identity_email_and_phone() -> None:
    action = chatwoot.interpret(
        {
            "event": "contact_updated",
            "id": 14,
            "name": "Jane",
            "email": "jane@acme.inc",
            "phone_number": "+447700900123",
            "identifier": "c-1",
            "additional_attributes": {},
            "custom_attributes": {},
            "account": {"id": 1, "name": "Acme Inc"},
            "changed_attributes": [
                {"email": {"previous_value": None, "current_value": "jane@acme.inc"}}
            ],
        },
        trust_identifier=True,  # else an identifier needs proof (issue 12)
    )
    assert isinstance(action, ContactUpdate)
    ref = action.customer
    assert (ref.external_id, ref.email, ref.phone, ref.identifier) == (
        "14",
        "jane@acme.inc",
        "+447700900123",
        "c-1",
    )


def test_chatwoot_conversation_status_changed() -> None:
    action = chatwoot.interpret(
        {"event": "conversation_status_changed", "id": 10, "status": "resolved"}
    )
    assert action == ConversationStatus("10", "resolved")


def test_chatwoot_other_events_are_ignored_and_bad_ones_refused() -> None:
    assert isinstance(chatwoot.interpret({"event": "webwidget_triggered"}), Ignore)
    with pytest.raises(InvalidMessage):
        chatwoot.interpret({"event": "contact_updated"})
    with pytest.raises(InvalidMessage):
        chatwoot.interpret("message_created")
