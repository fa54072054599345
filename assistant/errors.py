"""The error-code registry: every stable error code Trustline reports, in one table.

Codes are `TL` and three digits; the first digit names the family:

- TL00x: the extraction engine (`nlp/errors.py`).
- TL01x: identifier cue files (`nlp/identifiers/scan.py`).
- TL10x: the processing policy file (`assistant/policy.py`).
- TL20x: the sidebar's settings (`assistant/sidebar/config.py`).
- TL30x: the customer page's settings (`assistant/customer_page/`).
- TL40x: the webhook settings (`assistant/webhooks/config.py`).

`nlp/` knows nothing of the assistant, so its modules spell their codes out;
tests/test_errors.py checks that every code in the source is in this table and every
code in the table is used, and that docs/errors.md is the table's current rendering
(`python -m assistant.errors` writes it). Problem documents' `error` slugs
(`invalid_json`, `storage_unavailable`...) are another thing: API codes, in the
OpenAPI document.

This module imports nothing: every layer may read it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ErrorCode:
    code: str
    title: str
    # The HTTP status a request that meets it is answered with; None when it stops
    # start-up or a command instead.
    status: int | None
    meaning: str


REGISTRY: tuple[ErrorCode, ...] = (
    # -- the extraction engine ---------------------------------------------------------
    ErrorCode("TL000", "Extraction error", None, "Any other error of the extraction engine."),
    ErrorCode(
        "TL001",
        "Model not installed",
        None,
        "The configured spaCy pipeline (TRUSTLINE_SPACY_MODEL) is not installed; nothing is"
        " downloaded at run time. Install it or name an installed one.",
    ),
    ErrorCode(
        "TL002",
        "Language data unusable",
        None,
        "A language data file of the extractor is missing or malformed.",
    ),
    ErrorCode(
        "TL003",
        "Text too long",
        413,
        "A text is longer than TRUSTLINE_MAX_TEXT_CHARS; split it or raise the limit.",
    ),
    ErrorCode(
        "TL004",
        "Trained component missing",
        None,
        "A trained component that ships with the package is missing; reinstall, or rebuild"
        " it with `trustline train`.",
    ),
    ErrorCode(
        "TL005",
        "Invalid text",
        400,
        "The input is not a processable text (not a string, not valid Unicode).",
    ),
    ErrorCode(
        "TL006",
        "Text over its time budget",
        422,
        "Analysing a text took longer than its time budget (TRUSTLINE_TEXT_TIME_BUDGET_MS);"
        " the text was refused whole and nothing of it was stored.",
    ),
    # -- identifier cue files ----------------------------------------------------------
    ErrorCode(
        "TL011",
        "Cue file unreadable",
        None,
        "An identifier cue file cannot be read or parsed, or its top level is not a JSON object.",
    ),
    ErrorCode("TL012", "Cue group undocumented", None, "A cue group has no `_doc` string."),
    ErrorCode(
        "TL013",
        "Cue file malformed",
        None,
        "A cue file's key is unknown or its value has the wrong shape.",
    ),
    ErrorCode(
        "TL014",
        "Unknown identifier kind",
        None,
        "A cue names an identifier kind that does not exist.",
    ),
    ErrorCode(
        "TL015", "Cue list malformed", None, "A cue list is not a list of non-empty strings."
    ),
    ErrorCode(
        "TL016",
        "Cue listed twice",
        None,
        "One cue phrase is listed for two identifier kinds.",
    ),
    # -- the processing policy ---------------------------------------------------------
    ErrorCode("TL101", "Policy unreadable", None, "The policy file cannot be read."),
    ErrorCode(
        "TL102",
        "Policy not JSON",
        None,
        "The policy file is not valid UTF-8 JSON, or repeats a key in one object.",
    ),
    ErrorCode(
        "TL103",
        "Policy malformed",
        None,
        "A policy key is missing, unknown or of the wrong type, or a value is not allowed.",
    ),
    ErrorCode(
        "TL104",
        "Secret mapped to a purpose",
        None,
        "The policy maps a secret or identifier category to a purpose.",
    ),
    ErrorCode(
        "TL105",
        "Special category outside art9",
        None,
        "The policy maps a special category to a purpose that is not an `art9` purpose.",
    ),
    ErrorCode(
        "TL106",
        "Undeclared purpose",
        None,
        "A data category names a purpose the policy file does not declare.",
    ),
    ErrorCode(
        "TL107",
        "Lawful basis does not fit",
        None,
        "A lawful basis does not fit the purpose's enforcement mode.",
    ),
    # -- the sidebar's settings --------------------------------------------------------
    ErrorCode(
        "TL201",
        "Launch secrets unusable",
        None,
        "TRUSTLINE_LAUNCH_SECRETS is malformed or a secret is too short.",
    ),
    ErrorCode(
        "TL202",
        "Frame ancestor unusable",
        None,
        "TRUSTLINE_FRAME_ANCESTORS holds something that is not a CSP source.",
    ),
    ErrorCode(
        "TL203",
        "Host origin unusable",
        None,
        "TRUSTLINE_HOST_ORIGINS holds something that is not an origin.",
    ),
    ErrorCode(
        "TL204",
        "Session key cannot be kept",
        None,
        "The generated session key cannot be kept in the instance folder.",
    ),
    ErrorCode(
        "TL205",
        "Unknown role",
        None,
        "TRUSTLINE_CREATE_CUSTOMER_ROLES names an unknown role.",
    ),
    # -- the customer page's settings --------------------------------------------------
    ErrorCode(
        "TL301",
        "Link lifetime unusable",
        None,
        "TRUSTLINE_CUSTOMER_LINK_TTL or TRUSTLINE_CUSTOMER_LINK_MAX_TTL cannot be used.",
    ),
    # -- the webhook settings ----------------------------------------------------------
    ErrorCode(
        "TL401",
        "Webhook setting unusable",
        None,
        "A webhook setting (TRUSTLINE_WEBHOOK_*, TRUSTLINE_INBOUND_*) cannot be used; the"
        " message names it and the fix.",
    ),
)

BY_CODE = {entry.code: entry for entry in REGISTRY}
DOCS = Path(__file__).parents[1] / "docs" / "errors.md"


def lookup(code: str) -> ErrorCode:
    """The registry's entry for `code` (KeyError when it has none)."""
    return BY_CODE[code]


def markdown() -> str:
    """docs/errors.md: the registry as a table."""
    lines = [
        "# Error codes",
        "",
        "<!-- Generated by `python -m assistant.errors` from assistant/errors.py; do not edit. -->",
        "",
        "Every error Trustline reports with a stable code. HTTP status: what a JSON API request"
        " that meets it is answered with (a problem document); `-` when the error stops"
        " start-up or a command instead.",
        "",
        "| code | title | HTTP status | meaning |",
        "|------|-------|-------------|---------|",
    ]
    for e in REGISTRY:
        status = str(e.status) if e.status is not None else "-"
        lines.append(f"| `{e.code}` | {e.title} | {status} | {e.meaning} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/errors.md (or the path given)."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DOCS
    target.write_text(markdown(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
