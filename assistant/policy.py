"""The processing policy: purposes, lawful bases, enforcement and retention, as data.

A policy file (JSON; the shipped default is `assistant/data/policy.json`, a deployment
points the `TRUSTLINE_POLICY` setting at its own) declares the purposes Trustline
processes customer data for and maps every fact kind of the extraction contract to one
of them. The consent engine (`assistant.consent`) decides from it; `processing_report`
turns it into the GDPR Art. 30 record of processing.

File shape::

    {
      "version": "2025-06-01",
      "purposes": {
        "<name>": {
          "description": "...", "lawful_basis": "consent", "enforcement": "consent_required",
          "retention_days": 365,            # or null: kept while the customer exists
          "art9": false,                    # optional: an Art. 9(2)(a) explicit-consent purpose
          "wording": {"text": "...", "version": "..."},
          "recipients": ["..."], "transfers": ["..."],    # optional, for the Art. 30 record
          "title": "...", "benefit": "...",   # optional: the customer's page names the purpose
          "self_service_grant": false         # optional: customers may opt in on their page
        }
      },
      "data_categories": {
        "preference": {"<field>": "<purpose>" | null, ...},
        "complaint": "<purpose>" | null | {"<category>": "<purpose>" | null, ...},
        "sensitive": {"<category>": "<purpose>" | null, ...}
      },
      "controller": {"name": "...", ...}, "data_subjects": "...",      # optional
      "security_measures": ["..."], "notes": ["..."]                    # optional
    }

Anything not mapped is never stored (fail closed). Whatever the file says, secrets and
identifiers (`SECRET_CATEGORIES`) are never stored, and a special category (Art. 9) may
only map to an `art9` purpose. To enable one, map it in the deployment's file, e.g.
`"sensitive": {"health": "special_category_care", ...}`; facts of that category are then
stored only for customers with a granted record for that purpose.

Errors (`PolicyError.code`, stable across releases):

* TL101: the policy file cannot be read.
* TL102: the file is not valid JSON (or repeats a key).
* TL103: a key is missing, unknown or of the wrong type, or a value is not allowed.
* TL104: a secret or identifier category is mapped to a purpose.
* TL105: a special category is mapped to a purpose that is not an `art9` purpose.
* TL106: a data category names a purpose the file does not declare.
* TL107: a lawful basis does not fit the purpose's enforcement mode.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

LAWFUL_BASES = (
    "consent",
    "explicit_consent",
    "contract",
    "legitimate_interest",
    "legal_obligation",
)
ENFORCEMENT = ("objectable", "consent_required", "consent_required_per_channel", "never_store")

CONSENT_BASES: Final = ("consent", "explicit_consent")
CONSENT_ENFORCEMENT: Final = ("consent_required", "consent_required_per_channel")

# The extraction contract (v1); nlp.facts imports no spaCy, so this module stays light.
from nlp.facts import (  # noqa: E402
    COMPLAINT_CATEGORIES,
    PREFERENCE_FIELDS,
    SECRET_CATEGORIES,
    SENSITIVE_CATEGORIES,
)

# The key that tells facts of one kind apart, and the values the contract allows for it.
# Consent statements are not profile facts: they go to the ledger, so they cannot be mapped.
PROFILE_KINDS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = MappingProxyType(
    {
        "preference": ("field", PREFERENCE_FIELDS),
        "complaint": ("category", COMPLAINT_CATEGORIES),
        "sensitive": ("category", SENSITIVE_CATEGORIES),
    }
)

# "all" is the scope of a withdrawal that applies to every purpose, never a purpose itself.
RESERVED_PURPOSE_NAMES: Final = ("all",)

DEFAULT_POLICY_PATH: Final = Path(__file__).parent / "data" / "policy.json"

_FIX_SHAPE = "Compare the file with the shipped default, assistant/data/policy.json."
_FIX_READ = (
    "Point TRUSTLINE_POLICY at a readable JSON policy file, or unset it to use the "
    "shipped default (assistant/data/policy.json)."
)

# Key -> required?
_TOP_KEYS: Final = {
    "version": True,
    "purposes": True,
    "data_categories": True,
    "controller": False,
    "data_subjects": False,
    "security_measures": False,
    "notes": False,
}
_PURPOSE_KEYS: Final = {
    "description": True,
    "lawful_basis": True,
    "enforcement": True,
    "retention_days": True,
    "art9": False,
    "wording": False,
    "recipients": False,
    "transfers": False,
    "notes": False,
    "title": False,
    "benefit": False,
    "self_service_grant": False,
}
_WORDING_KEYS: Final = {"text": True, "version": True}

DataCategory = tuple[str, str | None]
"""(kind, field or category); None as the second item stands for every fact of the kind."""


class PolicyError(Exception):
    """A policy that cannot be used; `code` is stable, `fix` says what to change."""

    def __init__(self, code: str, message: str, fix: str, path: Path | None = None) -> None:
        self.code = code
        self.message = message
        self.fix = fix
        self.path = path
        where = f"policy file {path}: " if path is not None else "policy: "
        super().__init__(f"[{code}] {where}{message} Fix: {fix}")

    def at(self, path: Path) -> PolicyError:
        """The same error, naming the file it came from."""
        return PolicyError(self.code, self.message, self.fix, path)


@dataclass(frozen=True, slots=True)
class Purpose:
    """One purpose of processing, with its lawful basis and how it is enforced.

    `retention_days` is the time to live applied by `trustline purge` (None: kept while
    the customer exists). `art9` marks an explicit-consent purpose (Art. 9(2)(a)) that
    special categories may be mapped to. `wording` / `wording_version` are what the
    customer is told (the consent script or, for objectable purposes, the notice).
    `title` and `benefit` are what the customer's own page calls the purpose and what
    it says the customer gets for it; `self_service_grant` lets customers opt in there
    (withdrawing is always possible).
    """

    name: str
    description: str
    lawful_basis: str
    enforcement: str
    retention_days: int | None
    art9: bool = False
    wording: str = ""
    wording_version: str = ""
    recipients: tuple[str, ...] = ()
    transfers: tuple[str, ...] = ()
    title: str = ""
    benefit: str = ""
    self_service_grant: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipients", tuple(self.recipients))
        object.__setattr__(self, "transfers", tuple(self.transfers))
        _check_purpose(self)

    @property
    def needs_consent(self) -> bool:
        """True when nothing is stored or sent without a granted consent record."""
        return self.enforcement in CONSENT_ENFORCEMENT


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated, read-only policy; build it with `load_policy` or `parse_policy`.

    Constructing one directly validates it too (secrets can never be mapped), raising
    `PolicyError`.
    """

    version: str
    purposes: Mapping[str, Purpose]
    data_categories: Mapping[DataCategory, str | None] = field(default_factory=dict)
    controller: Mapping[str, str] = field(default_factory=dict)
    data_subjects: str = ""
    security_measures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "purposes", MappingProxyType(dict(self.purposes)))
        object.__setattr__(self, "data_categories", MappingProxyType(dict(self.data_categories)))
        object.__setattr__(self, "controller", MappingProxyType(dict(self.controller)))
        object.__setattr__(self, "security_measures", tuple(self.security_measures))
        _check_policy(self)

    def purpose_for(self, fact: Mapping[str, Any]) -> str | None:
        """The purpose a fact of the extraction contract is stored for; None = never stored."""
        kind = fact.get("kind")
        if not isinstance(kind, str) or kind not in PROFILE_KINDS:
            return None
        sub = fact.get(PROFILE_KINDS[kind][0])
        if kind == "sensitive" and (not isinstance(sub, str) or sub in SECRET_CATEGORIES):
            return None
        if isinstance(sub, str) and (kind, sub) in self.data_categories:
            return self.data_categories[(kind, sub)]
        return self.data_categories.get((kind, None))

    def wording(self, purpose: str) -> tuple[str, str]:
        """(plain-language script, its version) to show the customer for `purpose`.

        Raises KeyError for a purpose the policy does not declare or that has no wording.
        """
        declared = self.purposes.get(purpose)
        if declared is None:
            raise KeyError(
                f"unknown purpose {purpose!r}; the policy declares {', '.join(self.purposes)}"
            )
        if not declared.wording:
            raise KeyError(f"purpose {purpose!r} has no wording in the policy")
        return declared.wording, declared.wording_version

    def data_categories_of(self, purpose: str) -> tuple[DataCategory, ...]:
        """The (kind, field or category) pairs mapped to `purpose`, in contract order."""
        return tuple(
            cat for cat in _contract_order(self.data_categories) if self._maps(cat, purpose)
        )

    def never_stored(self) -> tuple[DataCategory, ...]:
        """Every contract data category that no purpose stores, secrets first."""
        out: list[DataCategory] = [("sensitive", c) for c in SECRET_CATEGORIES]
        for kind, (_, values) in PROFILE_KINDS.items():
            for value in values:
                if (
                    value not in SECRET_CATEGORIES
                    and self.purpose_for({"kind": kind, PROFILE_KINDS[kind][0]: value}) is None
                ):
                    out.append((kind, value))
        return tuple(out)

    def _maps(self, category: DataCategory, purpose: str) -> bool:
        return self.data_categories.get(category) == purpose


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a policy file; None (or "", an unset setting) reads the default.

    Raises PolicyError (codes TL101-TL107) naming the file, the problem and the fix.
    """
    source = DEFAULT_POLICY_PATH if path is None or path == "" else Path(path)
    try:
        raw = source.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise PolicyError("TL101", f"cannot be read ({reason}).", _FIX_READ, source) from None
    except UnicodeDecodeError:
        raise PolicyError("TL102", "is not UTF-8 text.", _FIX_READ, source) from None
    try:
        data = json.loads(raw, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            "TL102",
            f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            "Fix the JSON syntax (a JSON linter shows the spot), or start from the shipped "
            "default, assistant/data/policy.json.",
            source,
        ) from None
    except PolicyError as exc:
        raise exc.at(source) from None
    try:
        return parse_policy(data)
    except PolicyError as exc:
        raise exc.at(source) from None


def parse_policy(data: Any) -> Policy:
    """Build a Policy from the decoded JSON of a policy file; raises PolicyError."""
    top = _object(data, "the file", _TOP_KEYS)
    version = _text(top["version"], "version")
    raw_purposes = _mapping(top["purposes"], "purposes")
    if not raw_purposes:
        raise PolicyError("TL103", "declares no purposes.", _FIX_SHAPE)
    purposes = {name: _parse_purpose(name, spec) for name, spec in raw_purposes.items()}
    categories = _parse_categories(top["data_categories"])
    controller = {
        key: _text(value, f"controller.{key}")
        for key, value in _mapping(top.get("controller", {}), "controller").items()
    }
    return Policy(
        version=version,
        purposes=purposes,
        data_categories=categories,
        controller=controller,
        data_subjects=_text(top.get("data_subjects", ""), "data_subjects", empty=True),
        security_measures=_texts(top.get("security_measures", []), "security_measures"),
    )


def processing_report(policy: Policy) -> str:
    """The record of processing activities (GDPR Art. 30) for `policy`, as Markdown."""
    lines = [
        "# Record of processing activities (GDPR Art. 30)",
        "",
        f"Generated by Trustline from policy version {policy.version}.",
        "",
    ]
    if policy.controller:
        lines.append("Controller:")
        lines += [f"- {key}: {value}" for key, value in policy.controller.items()]
    else:
        lines.append(
            'Controller: not declared in the policy file (add a "controller" object with '
            "name and contact details, and those of the DPO if one is appointed)."
        )
    lines += [
        "",
        f"Data subjects: {policy.data_subjects or 'customers (not further declared).'}",
        "",
    ]
    for purpose in policy.purposes.values():
        lines += _purpose_section(policy, purpose)
    lines += ["## Never stored", ""]
    lines.append(
        "- Secrets and identifiers, whatever the policy file says: "
        + ", ".join(SECRET_CATEGORIES)
        + "."
    )
    others = [_label(cat) for cat in policy.never_stored() if cat[1] not in SECRET_CATEGORIES]
    if others:
        lines.append("- Mapped to no purpose in this policy: " + ", ".join(others) + ".")
    lines += [
        "- Consent statements are kept in the consent ledger as proof, not in the profile.",
        "",
        "## Security measures",
        "",
    ]
    if policy.security_measures:
        lines += [f"- {measure}" for measure in policy.security_measures]
    else:
        lines.append('- Not declared in the policy file (add a "security_measures" list).')
    return "\n".join(lines) + "\n"


_BASIS_TEXT: Final = {
    "consent": "consent, Art. 6(1)(a)",
    "explicit_consent": "explicit consent, Art. 9(2)(a) with Art. 6(1)(a)",
    "contract": "performance of a contract, Art. 6(1)(b)",
    "legal_obligation": "legal obligation, Art. 6(1)(c)",
    "legitimate_interest": "legitimate interests, Art. 6(1)(f)",
}
_ENFORCEMENT_TEXT: Final = {
    "objectable": "stored unless the customer objects (Art. 21)",
    "consent_required": "stored only while a granted consent record is in force",
    "consent_required_per_channel": (
        "used on a channel only while a granted consent record for that channel "
        "(or for the whole purpose) is in force"
    ),
    "never_store": "nothing is stored",
}


def _purpose_section(policy: Policy, purpose: Purpose) -> list[str]:
    mapped = [_label(cat) for cat in policy.data_categories_of(purpose.name)]
    if purpose.retention_days is None:
        retention = "kept while the customer exists (removed on erasure)"
    else:
        retention = f"{purpose.retention_days} days, then removed by `trustline purge`"
    lines = [
        f"## Purpose: {purpose.name}",
        "",
        purpose.description,
        "",
        f"- Lawful basis: `{purpose.lawful_basis}`: {_BASIS_TEXT[purpose.lawful_basis]}",
        f"- Enforcement: `{purpose.enforcement}`: {_ENFORCEMENT_TEXT[purpose.enforcement]}",
        f"- Data categories: {', '.join(mapped) if mapped else 'none mapped'}",
        f"- Retention: {retention}",
        f"- Recipients: {'; '.join(purpose.recipients) or 'none declared'}",
        "- Transfers to third countries: " + ("; ".join(purpose.transfers) or "none declared"),
    ]
    if purpose.art9:
        lines.append("- Special categories (Art. 9) only with the customer's explicit consent")
    if purpose.wording:
        lines.append(f"- Wording shown to the customer: version {purpose.wording_version}")
    return [*lines, ""]


def _label(category: DataCategory) -> str:
    kind, sub = category
    return f"{kind} (every category)" if sub is None else f"{kind}.{sub}"


def _contract_order(categories: Iterable[DataCategory]) -> list[DataCategory]:
    kinds = list(PROFILE_KINDS)

    def rank(cat: DataCategory) -> tuple[int, int, str]:
        kind, sub = cat
        values = PROFILE_KINDS[kind][1]
        return (kinds.index(kind), -1 if sub is None else values.index(sub), sub or "")

    return sorted(categories, key=rank)


def _check_purpose(purpose: Purpose) -> None:
    where = f"purpose {purpose.name!r}"
    if not purpose.name or purpose.name in RESERVED_PURPOSE_NAMES:
        raise PolicyError(
            "TL103",
            f"{where}: {purpose.name!r} cannot be a purpose name ('all' is the scope of a "
            "withdrawal from every purpose).",
            "Rename the purpose.",
        )
    if purpose.lawful_basis not in LAWFUL_BASES:
        raise PolicyError(
            "TL103",
            f"{where}: unknown lawful basis {purpose.lawful_basis!r}.",
            f"Use one of: {', '.join(LAWFUL_BASES)}.",
        )
    if purpose.enforcement not in ENFORCEMENT:
        raise PolicyError(
            "TL103",
            f"{where}: unknown enforcement {purpose.enforcement!r}.",
            f"Use one of: {', '.join(ENFORCEMENT)}.",
        )
    days = purpose.retention_days
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise PolicyError(
            "TL103",
            f"{where}: retention_days must be a whole number of days (1 or more) or null, "
            f"not {days!r}.",
            "Set retention_days to e.g. 365, or null to keep data while the customer exists.",
        )
    consent_based = purpose.lawful_basis in CONSENT_BASES
    if purpose.enforcement in CONSENT_ENFORCEMENT and not consent_based:
        raise PolicyError(
            "TL107",
            f"{where}: enforcement {purpose.enforcement!r} asks for consent, but the lawful "
            f"basis is {purpose.lawful_basis!r}.",
            "Use lawful_basis consent (or explicit_consent), or enforcement objectable.",
        )
    if purpose.enforcement == "objectable" and consent_based:
        raise PolicyError(
            "TL107",
            f"{where}: lawful basis {purpose.lawful_basis!r} needs the customer's opt-in, but "
            "enforcement 'objectable' stores data until they object.",
            "Use enforcement consent_required (or consent_required_per_channel).",
        )
    if purpose.art9 and (
        purpose.lawful_basis != "explicit_consent" or purpose.enforcement not in CONSENT_ENFORCEMENT
    ):
        raise PolicyError(
            "TL107",
            f"{where}: an art9 purpose must rest on explicit consent (Art. 9(2)(a)).",
            "Set lawful_basis explicit_consent and enforcement consent_required.",
        )
    if purpose.enforcement != "never_store" and not (purpose.wording and purpose.wording_version):
        raise PolicyError(
            "TL103",
            f"{where}: no wording: customers must be told about it (consent script, or the "
            "notice of their right to object).",
            'Add "wording": {"text": "...", "version": "..."} to the purpose.',
        )


def _check_policy(policy: Policy) -> None:
    if not policy.version:
        raise PolicyError("TL103", "the version is empty.", 'Set "version", e.g. a date.')
    for key, purpose in policy.purposes.items():
        if key != purpose.name:
            raise PolicyError(
                "TL103",
                f"purpose {purpose.name!r} is filed under the name {key!r}.",
                "Use the same name for both.",
            )
    for (kind, sub), name in policy.data_categories.items():
        label = _label((kind, sub))
        if kind not in PROFILE_KINDS:
            raise PolicyError(
                "TL103",
                f"data_categories: {kind!r} is not a fact kind that can be stored "
                "(consent statements go to the consent ledger, not the profile).",
                f"Map only these kinds: {', '.join(PROFILE_KINDS)}.",
            )
        values = PROFILE_KINDS[kind][1]
        if sub is not None and sub not in values:
            raise PolicyError(
                "TL103",
                f"data_categories.{kind}: unknown {PROFILE_KINDS[kind][0]} {sub!r}.",
                f"Use one of: {', '.join(values)}.",
            )
        if name is None:
            continue
        if kind == "sensitive" and (sub is None or sub in SECRET_CATEGORIES):
            raise PolicyError(
                "TL104",
                f"data_categories: {label} is mapped to purpose {name!r}, but secrets and "
                f"identifiers ({', '.join(SECRET_CATEGORIES)}) are never stored, whatever "
                "the policy says.",
                f"Set {label} to null (or remove it), and map sensitive categories one by one.",
            )
        if name not in policy.purposes:
            raise PolicyError(
                "TL106",
                f"data_categories: {label} is mapped to purpose {name!r}, which the policy "
                "does not declare.",
                f"Declare {name!r} under purposes, or use one of: {', '.join(policy.purposes)}.",
            )
        if kind == "sensitive" and not policy.purposes[name].art9:
            raise PolicyError(
                "TL105",
                f"data_categories: special category {label} is mapped to purpose {name!r}, "
                "which is not an art9 (explicit consent) purpose.",
                'Map it to a purpose with "art9": true (the default ships '
                "special_category_care), or set it to null.",
            )


def _parse_purpose(name: str, spec: Any) -> Purpose:
    where = f"purposes.{name}"
    obj = _object(spec, where, _PURPOSE_KEYS)
    art9 = obj.get("art9", False)
    if not isinstance(art9, bool):
        raise PolicyError("TL103", f"{where}.art9 must be true or false.", _FIX_SHAPE)
    self_service_grant = obj.get("self_service_grant", False)
    if not isinstance(self_service_grant, bool):
        raise PolicyError("TL103", f"{where}.self_service_grant must be true or false.", _FIX_SHAPE)
    wording, wording_version = "", ""
    if "wording" in obj:
        text = _object(obj["wording"], f"{where}.wording", _WORDING_KEYS)
        wording = _text(text["text"], f"{where}.wording.text")
        wording_version = _text(text["version"], f"{where}.wording.version")
    return Purpose(
        name=name,
        description=_text(obj["description"], f"{where}.description"),
        lawful_basis=_text(obj["lawful_basis"], f"{where}.lawful_basis"),
        enforcement=_text(obj["enforcement"], f"{where}.enforcement"),
        retention_days=obj["retention_days"],
        art9=art9,
        wording=wording,
        wording_version=wording_version,
        recipients=_texts(obj.get("recipients", []), f"{where}.recipients"),
        transfers=_texts(obj.get("transfers", []), f"{where}.transfers"),
        title=_text(obj.get("title", ""), f"{where}.title", empty=True),
        benefit=_text(obj.get("benefit", ""), f"{where}.benefit", empty=True),
        self_service_grant=self_service_grant,
    )


def _parse_categories(data: Any) -> dict[DataCategory, str | None]:
    out: dict[DataCategory, str | None] = {}
    for kind, spec in _mapping(data, "data_categories").items():
        if kind not in PROFILE_KINDS:
            raise PolicyError(
                "TL103",
                f"data_categories: {kind!r} is not a fact kind that can be stored "
                "(consent statements go to the consent ledger, not the profile).",
                f"Map only these kinds: {', '.join(PROFILE_KINDS)}.",
            )
        if spec is None or isinstance(spec, str):
            if kind == "sensitive" and spec is not None:
                raise PolicyError(
                    "TL104",
                    f"data_categories.sensitive maps every sensitive category to {spec!r}, "
                    f"but secrets and identifiers ({', '.join(SECRET_CATEGORIES)}) are never "
                    "stored, whatever the policy says.",
                    "Map special categories one by one, e.g. "
                    '"sensitive": {"health": "special_category_care"}.',
                )
            out[(kind, None)] = spec
            continue
        for sub, name in _mapping(spec, f"data_categories.{kind}").items():
            if name is not None and not isinstance(name, str):
                raise PolicyError(
                    "TL103",
                    f"data_categories.{kind}.{sub} must be a purpose name or null.",
                    _FIX_SHAPE,
                )
            out[(kind, sub)] = name
    return out


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # The last one would silently win and could hide a mapping.
            raise PolicyError(
                "TL102", f"repeats the key {key!r} in one object.", "Keep one of them."
            )
        out[key] = value
    return out


def _mapping(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise PolicyError("TL103", f"{where} must be a JSON object.", _FIX_SHAPE)
    return data


def _object(data: Any, where: str, keys: Mapping[str, bool]) -> dict[str, Any]:
    obj = _mapping(data, where)
    # An unknown key is usually a typo ("retention_day") that would silently drop a rule.
    unknown = sorted(set(obj) - set(keys))
    if unknown:
        raise PolicyError(
            "TL103",
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}.",
            f"Check the spelling; allowed keys: {', '.join(keys)}.",
        )
    missing = [key for key, required in keys.items() if required and key not in obj]
    if missing:
        raise PolicyError(
            "TL103",
            f"{where}: missing key(s) {', '.join(map(repr, missing))}.",
            _FIX_SHAPE,
        )
    return obj


def _text(value: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        kind = "a string" if empty else "a non-empty string"
        raise PolicyError("TL103", f"{where} must be {kind}.", _FIX_SHAPE)
    return value


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise PolicyError("TL103", f"{where} must be a list of strings.", _FIX_SHAPE)
    return tuple(_text(item, f"{where}[{i}]") for i, item in enumerate(value))
