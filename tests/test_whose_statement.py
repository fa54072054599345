"""Only the customer's own statements become the customer's facts (issue 13, item 3)."""

from __future__ import annotations

import pytest

from nlp import Extractor


def kinds(extractor: Extractor, text: str) -> list[tuple[str, str, str]]:
    out = []
    for f in extractor.extract(text).to_dict()["facts"]:
        if f["kind"] == "preference":
            out.append(("preference", f["field"], f["value"]))
        elif f["kind"] == "consent":
            out.append(("consent", f["action"], f["purpose"]))
    return out


@pytest.mark.parametrize(
    "text",
    [
        "her husband says she prefers post",  # the issue's own example
        "Her son wants texts instead",
        "my husband says stop the emails",
        "Cust's daughter would like the newsletter by email",
    ],
)
def test_someone_elses_wish_is_not_the_customers(extractor: Extractor, text: str) -> None:
    assert kinds(extractor, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She and her husband prefer email", ("preference", "contact_channel", "email")),
        ("prefers email, her husband likes post", ("preference", "contact_channel", "email")),
    ],
)
def test_the_customers_own_wish_beside_someone_elses_is_kept(
    extractor: Extractor, text: str, expected: tuple[str, str, str]
) -> None:
    assert kinds(extractor, text) == [expected]
