"""The policy file: shipped default, custom files, refusals, the Art. 30 report (issue 3)."""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from assistant.consent import ConsentRecord, ConsentState, decide
from assistant.policy import (
    DEFAULT_POLICY_PATH,
    ENFORCEMENT,
    LAWFUL_BASES,
    Policy,
    PolicyError,
    Purpose,
    load_policy,
    parse_policy,
    processing_report,
)
from nlp import facts as contract
from nlp.facts import (
    COMPLAINT_CATEGORIES,
    PREFERENCE_FIELDS,
    SECRET_CATEGORIES,
    SENSITIVE_CATEGORIES,
    SPECIAL_CATEGORIES,
)

NOW = datetime(2025, 3, 1, tzinfo=UTC)
RAW: dict[str, Any] = json.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))


def raw() -> dict[str, Any]:
    """A fresh, editable copy of the shipped file's JSON."""
    return copy.deepcopy(RAW)


def write(tmp_path: Path, data: Any, name: str = "policy.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- the shipped default ------------------------------------------------------------------------


def test_the_default_policy_loads() -> None:
    policy = load_policy()
    assert policy == load_policy(None) == load_policy(DEFAULT_POLICY_PATH)
    assert policy.version == RAW["version"]
    shipped = Path(__file__).parents[1] / "assistant" / "data" / "policy.json"
    assert shipped == DEFAULT_POLICY_PATH


def test_an_unset_setting_means_the_default() -> None:
    # TRUSTLINE_POLICY's default is "", which the app passes straight through.
    assert load_policy("") == load_policy()


@pytest.mark.parametrize(
    ("name", "basis", "enforcement", "retention_days", "art9"),
    [
        ("service", "legitimate_interest", "objectable", 730, False),
        ("personalization", "consent", "consent_required", 365, False),
        ("marketing", "consent", "consent_required_per_channel", 730, False),
        ("analytics", "consent", "consent_required", 365, False),
        ("data_sharing", "consent", "consent_required", 365, False),
        ("special_category_care", "explicit_consent", "consent_required", 180, True),
    ],
)
def test_the_default_purposes(
    name: str, basis: str, enforcement: str, retention_days: int, art9: bool
) -> None:
    purpose = load_policy().purposes[name]
    assert (purpose.lawful_basis, purpose.enforcement) == (basis, enforcement)
    assert (purpose.retention_days, purpose.art9) == (retention_days, art9)
    assert purpose.description


def test_the_default_declares_no_other_purpose() -> None:
    assert set(load_policy().purposes) == {
        "service",
        "personalization",
        "marketing",
        "analytics",
        "data_sharing",
        "special_category_care",
    }


def test_the_contract_here_is_the_extractors_contract() -> None:
    assert PREFERENCE_FIELDS == contract.PREFERENCE_FIELDS
    assert COMPLAINT_CATEGORIES == contract.COMPLAINT_CATEGORIES
    assert SENSITIVE_CATEGORIES == contract.SENSITIVE_CATEGORIES
    assert set(SPECIAL_CATEGORIES) | set(SECRET_CATEGORIES) == set(SENSITIVE_CATEGORIES)


@pytest.mark.parametrize("field", PREFERENCE_FIELDS)
def test_the_default_file_names_every_preference_field(field: str) -> None:
    assert field in RAW["data_categories"]["preference"]


@pytest.mark.parametrize("category", SENSITIVE_CATEGORIES)
def test_the_default_file_names_every_sensitive_category(category: str) -> None:
    assert category in RAW["data_categories"]["sensitive"]
    assert RAW["data_categories"]["sensitive"][category] is None


@pytest.mark.parametrize(
    ("field", "purpose"),
    [
        ("contact_channel", "service"),
        ("contact_time", "service"),
        ("language", "service"),
        ("interest", "personalization"),
        ("size", "personalization"),
        ("delivery", "personalization"),
        ("payment", "personalization"),
    ],
)
def test_default_preference_purposes(field: str, purpose: str) -> None:
    fact = {"kind": "preference", "field": field, "value": "x", "polarity": "negative"}
    assert load_policy().purpose_for(fact) == purpose


@pytest.mark.parametrize("category", COMPLAINT_CATEGORIES)
def test_every_complaint_is_kept_for_service(category: str) -> None:
    assert load_policy().purpose_for({"kind": "complaint", "category": category}) == "service"


@pytest.mark.parametrize("category", SENSITIVE_CATEGORIES)
def test_no_sensitive_category_is_stored_by_default(category: str) -> None:
    assert load_policy().purpose_for({"kind": "sensitive", "category": category}) is None


@pytest.mark.parametrize("action", ["grant", "withdraw", "erase", "access"])
def test_consent_statements_have_no_profile_purpose(action: str) -> None:
    fact = {"kind": "consent", "action": action, "purpose": "marketing"}
    assert load_policy().purpose_for(fact) is None


def test_the_art9_purpose_ships_with_nothing_mapped_to_it() -> None:
    assert load_policy().data_categories_of("special_category_care") == ()


@pytest.mark.parametrize("purpose", list(RAW["purposes"]))
def test_every_default_purpose_has_wording_with_a_version(purpose: str) -> None:
    text, version = load_policy().wording(purpose)
    assert text.strip() and version.strip()
    assert "{" not in text  # shown as is: no template placeholders


def test_wording_of_an_unknown_purpose_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="unknown purpose 'newsletter'"):
        load_policy().wording("newsletter")


def test_a_loaded_policy_is_read_only() -> None:
    policy = load_policy()
    with pytest.raises(TypeError):
        policy.purposes["extra"] = policy.purposes["service"]  # type: ignore[index]
    with pytest.raises(TypeError):
        policy.data_categories[("sensitive", "health")] = "service"  # type: ignore[index]


# -- a deployment's own file (TRUSTLINE_POLICY) -----------------------------------------------


def test_a_custom_file_enabling_an_art9_purpose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = raw()
    data["version"] = "clinic-2025-03"
    data["data_categories"]["sensitive"]["health"] = "special_category_care"
    monkeypatch.setenv("TRUSTLINE_POLICY", str(write(tmp_path, data)))
    policy = load_policy(os.environ["TRUSTLINE_POLICY"])
    assert policy.version == "clinic-2025-03"
    health = {"kind": "sensitive", "category": "health"}
    assert policy.purpose_for(health) == "special_category_care"
    assert policy.purpose_for({"kind": "sensitive", "category": "religion"}) is None
    assert policy.data_categories_of("special_category_care") == (("sensitive", "health"),)

    assert decide(health, ConsentState(), policy, NOW).reason == "no_consent"
    granted = ConsentState((_grant("special_category_care"),))
    decision = decide(health, granted, policy, NOW)
    assert (decision.outcome, decision.lawful_basis) == ("stored", "explicit_consent")
    assert "sensitive.health" in processing_report(policy)


def test_a_custom_file_loads_from_a_str_or_a_path(tmp_path: Path) -> None:
    path = write(tmp_path, raw())
    assert load_policy(str(path)) == load_policy(path) == load_policy()


def test_a_custom_file_may_map_complaints_by_category(tmp_path: Path) -> None:
    data = raw()
    data["data_categories"]["complaint"] = {"billing": "service", "privacy": None}
    policy = load_policy(write(tmp_path, data))
    assert policy.purpose_for({"kind": "complaint", "category": "billing"}) == "service"
    assert policy.purpose_for({"kind": "complaint", "category": "privacy"}) is None
    assert policy.purpose_for({"kind": "complaint", "category": "pricing"}) is None  # unmapped


def _grant(purpose: str) -> ConsentRecord:
    return ConsentRecord(
        id=7,
        customer_id="cust-1",
        purpose=purpose,
        channel=None,
        status="granted",
        lawful_basis="explicit_consent",
        source="agent",
        method="verbal",
        evidence={"agent": "a-1", "wording_version": "special-category-care-1"},
        effective_from=datetime(2025, 1, 1, tzinfo=UTC),
        effective_to=None,
        recorded_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


# -- refusals: each a PolicyError with a stable code, the file, and a fix ------------------------


def refused(tmp_path: Path, data: Any) -> PolicyError:
    path = write(tmp_path, data)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    error = caught.value
    assert error.path == path and str(path) in str(error)
    assert error.fix and "Fix: " in str(error)
    assert str(error).startswith(f"[{error.code}] ")
    return error


@pytest.mark.parametrize("category", SECRET_CATEGORIES)
@pytest.mark.parametrize("purpose", list(RAW["purposes"]))
def test_a_policy_mapping_a_secret_is_refused(tmp_path: Path, category: str, purpose: str) -> None:
    data = raw()
    data["data_categories"]["sensitive"][category] = purpose
    error = refused(tmp_path, data)
    assert error.code == "TL104"
    assert f"sensitive.{category}" in error.message
    assert "never stored" in error.message


def test_a_policy_mapping_every_sensitive_category_at_once_is_refused(tmp_path: Path) -> None:
    data = raw()
    data["data_categories"]["sensitive"] = "special_category_care"
    assert refused(tmp_path, data).code == "TL104"


@pytest.mark.parametrize("category", SECRET_CATEGORIES)
def test_a_secret_cannot_be_mapped_in_code_either(category: str) -> None:
    policy = load_policy()
    with pytest.raises(PolicyError, match="TL104"):
        Policy(
            version="x",
            purposes=policy.purposes,
            data_categories={("sensitive", category): "special_category_care"},
        )


@pytest.mark.parametrize("purpose", ["service", "personalization", "marketing"])
def test_a_special_category_needs_an_art9_purpose(tmp_path: Path, purpose: str) -> None:
    data = raw()
    data["data_categories"]["sensitive"]["health"] = purpose
    error = refused(tmp_path, data)
    assert error.code == "TL105"
    assert "art9" in error.message and "sensitive.health" in error.message


def test_a_mapping_to_an_undeclared_purpose_is_refused(tmp_path: Path) -> None:
    data = raw()
    data["data_categories"]["preference"]["interest"] = "newsletter"
    error = refused(tmp_path, data)
    assert error.code == "TL106"
    assert "'newsletter'" in error.message


@pytest.mark.parametrize(
    ("purpose", "changes"),
    [
        ("service", {"lawful_basis": "consent"}),  # consent cannot be opt-out
        ("personalization", {"lawful_basis": "legitimate_interest"}),
        ("marketing", {"lawful_basis": "contract"}),
        ("special_category_care", {"lawful_basis": "consent"}),  # art9 needs explicit consent
        ("special_category_care", {"enforcement": "never_store", "lawful_basis": "consent"}),
    ],
)
def test_a_lawful_basis_that_does_not_fit_the_enforcement_is_refused(
    tmp_path: Path, purpose: str, changes: dict[str, Any]
) -> None:
    data = raw()
    data["purposes"][purpose].update(changes)
    assert refused(tmp_path, data).code == "TL107"


def _drop(data: dict[str, Any], *keys: str) -> None:
    for key in keys[:-1]:
        data = data[key]
    del data[keys[-1]]


SHAPE_ERRORS: dict[str, tuple[Any, str]] = {
    # name: (edit applied to the default JSON, text the message must contain)
    "typo_in_a_purpose_key": (
        lambda d: d["purposes"]["service"].update(retention_day=1),
        "'retention_day'",
    ),
    "typo_at_the_top": (lambda d: d.update(purpose={}), "'purpose'"),
    "missing_version": (lambda d: _drop(d, "version"), "'version'"),
    "empty_version": (lambda d: d.update(version=" "), "version"),
    "missing_retention": (
        lambda d: _drop(d, "purposes", "marketing", "retention_days"),
        "'retention_days'",
    ),
    "unknown_basis": (
        lambda d: d["purposes"]["service"].update(lawful_basis="vital_interest"),
        "'vital_interest'",
    ),
    "unknown_enforcement": (
        lambda d: d["purposes"]["service"].update(enforcement="opt_out"),
        "'opt_out'",
    ),
    "negative_retention": (
        lambda d: d["purposes"]["service"].update(retention_days=-1),
        "retention_days",
    ),
    "zero_retention": (lambda d: d["purposes"]["service"].update(retention_days=0), "retention"),
    "boolean_retention": (
        lambda d: d["purposes"]["service"].update(retention_days=True),
        "retention_days",
    ),
    "text_retention": (
        lambda d: d["purposes"]["service"].update(retention_days="2 years"),
        "retention_days",
    ),
    "art9_not_boolean": (lambda d: d["purposes"]["service"].update(art9="yes"), "art9"),
    "no_wording": (lambda d: _drop(d, "purposes", "personalization", "wording"), "wording"),
    "wording_without_version": (
        lambda d: _drop(d, "purposes", "analytics", "wording", "version"),
        "'version'",
    ),
    "purpose_named_all": (
        lambda d: d["purposes"].update(all=d["purposes"]["analytics"]),
        "'all'",
    ),
    "no_purposes": (lambda d: d.update(purposes={}), "no purposes"),
    "purposes_not_an_object": (lambda d: d.update(purposes=["service"]), "purposes"),
    "consent_kind_mapped": (
        lambda d: d["data_categories"].update(consent="marketing"),
        "consent ledger",
    ),
    "unknown_kind_mapped": (lambda d: d["data_categories"].update(opinion="service"), "opinion"),
    "unknown_field_mapped": (
        lambda d: d["data_categories"]["preference"].update(contact_chanel="service"),
        "'contact_chanel'",
    ),
    "unknown_sensitive_category": (
        lambda d: d["data_categories"]["sensitive"].update(medical=None),
        "'medical'",
    ),
    "purpose_name_not_text": (
        lambda d: d["data_categories"]["preference"].update(size=3),
        "purpose name or null",
    ),
    "recipients_not_a_list": (
        lambda d: d["purposes"]["service"].update(recipients="agents"),
        "recipients",
    ),
}


@pytest.mark.parametrize("name", SHAPE_ERRORS)
def test_a_malformed_policy_is_refused_with_a_clear_message(tmp_path: Path, name: str) -> None:
    edit, expected = SHAPE_ERRORS[name]
    data = raw()
    edit(data)
    error = refused(tmp_path, data)
    assert error.code in {"TL103", "TL107"}
    assert expected in error.message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.code == "TL101"
    assert "TRUSTLINE_POLICY" in caught.value.fix and str(path) in str(caught.value)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="TL101"):
        load_policy(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"version": "1",\n  "purposes": {,}}', "line 2"),
        ("", "line 1"),
        ('{"version": "1", "version": "2"}', "repeats the key 'version'"),
        ("[1, 2]", "the file must be a JSON object"),
    ],
    ids=["syntax", "empty", "duplicate_key", "not_an_object"],
)
def test_a_file_that_is_not_a_policy_document_is_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert expected in str(caught.value)
    assert caught.value.code in {"TL102", "TL103"}


def test_a_duplicate_key_cannot_hide_a_secret(tmp_path: Path) -> None:
    # json.loads alone would keep the last value and accept the file.
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace(
        '"credential": null', '"credential": null, "credential": null'
    )
    path = tmp_path / "policy.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="TL102"):
        load_policy(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_bytes(b'{"version": "\xff"}')
    with pytest.raises(PolicyError, match="TL102"):
        load_policy(path)


def test_parse_policy_refuses_without_a_file() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy({"version": "1"})
    assert caught.value.path is None and str(caught.value).startswith("[TL103] policy: ")


def test_a_purpose_validates_itself() -> None:
    with pytest.raises(PolicyError, match="TL107"):
        Purpose("p", "d", "consent", "objectable", 30, wording="w", wording_version="1")
    for basis in LAWFUL_BASES:
        Purpose("p", "d", basis, "never_store", None)  # nothing stored: any basis will do
    assert set(ENFORCEMENT) == {
        "objectable",
        "consent_required",
        "consent_required_per_channel",
        "never_store",
    }


# -- the record of processing (Art. 30) ------------------------------------------------------


def test_the_report_covers_every_purpose_basis_enforcement_and_retention() -> None:
    policy = load_policy()
    report = processing_report(policy)
    assert report.startswith("# Record of processing activities (GDPR Art. 30)")
    assert f"policy version {policy.version}" in report
    for purpose in policy.purposes.values():
        section = report.split(f"## Purpose: {purpose.name}\n", 1)[1].split("\n## ", 1)[0]
        assert purpose.description in section
        assert f"Lawful basis: `{purpose.lawful_basis}`" in section
        assert f"Enforcement: `{purpose.enforcement}`" in section
        assert f"Retention: {purpose.retention_days} days" in section
        for recipient in purpose.recipients:
            assert recipient in section


def test_the_report_lists_data_categories_under_their_purpose() -> None:
    report = processing_report(load_policy())
    service = report.split("## Purpose: service\n", 1)[1].split("\n## ", 1)[0]
    assert "preference.contact_channel" in service and "complaint (every category)" in service
    personalization = report.split("## Purpose: personalization\n", 1)[1].split("\n## ", 1)[0]
    for field in ("interest", "size", "delivery", "payment"):
        assert f"preference.{field}" in personalization


def test_the_report_says_what_is_never_stored() -> None:
    never = processing_report(load_policy()).split("## Never stored\n", 1)[1]
    for category in SENSITIVE_CATEGORIES:
        assert category in never


def test_the_report_shows_declared_controller_transfers_and_open_retention(
    tmp_path: Path,
) -> None:
    data = raw()
    data["controller"] = {"name": "Example Retail SA", "dpo": "dpo@example.test"}
    data["purposes"]["data_sharing"]["transfers"] = ["Partner in the US, under SCCs"]
    data["purposes"]["service"]["retention_days"] = None
    report = processing_report(load_policy(write(tmp_path, data)))
    assert "- name: Example Retail SA" in report and "- dpo: dpo@example.test" in report
    assert "Transfers to third countries: Partner in the US, under SCCs" in report
    assert "Retention: kept while the customer exists" in report


def test_the_report_is_deterministic() -> None:
    assert processing_report(load_policy()) == processing_report(load_policy())
