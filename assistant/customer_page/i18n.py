"""The customer's page speaks the customer's language: every string goes through
gettext (Python's own, with Jinja's i18n extension), English now.

Catalogs are `locale/<lang>/LC_MESSAGES/customer_page.mo` beside this file; the
request's Accept-Language picks among them, English when none fits. Strings in English
are the message ids, so English needs no catalog.
"""

from __future__ import annotations

import gettext as stdlib
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request

DOMAIN = "customer_page"
LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "en"
_KEY = "customer_page_translations"


@cache
def languages() -> tuple[str, ...]:
    """English and every language with a compiled catalog."""
    found = sorted(p.parents[1].name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    return (DEFAULT, *[lang for lang in found if lang != DEFAULT])


@cache
def translations(language: str) -> stdlib.NullTranslations:
    if language == DEFAULT:
        return stdlib.NullTranslations()
    return stdlib.translation(DOMAIN, LOCALE_DIR, [language], fallback=True)


def language() -> str:
    """The language of this request's page."""
    if not has_request_context():
        return DEFAULT
    return request.accept_languages.best_match(languages()) or DEFAULT


def current() -> stdlib.NullTranslations:
    """This request's translations (tests may set `g.customer_page_translations`)."""
    if has_request_context() and _KEY in g:
        found: stdlib.NullTranslations = g.get(_KEY)
        return found
    return translations(language())


def gettext(message: str, **values: Any) -> str:
    """`message` in the page's language, with `%(name)s` values filled in."""
    text = current().gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    text = current().ngettext(singular, plural, n)
    return text % {"num": n, **values}


def _template_gettext(message: str) -> str:
    # Jinja's newstyle gettext marks the translation safe and fills in escaped values.
    return current().gettext(message)


def _template_ngettext(singular: str, plural: str, n: int) -> str:
    return current().ngettext(singular, plural, n)


def init_app(app: Flask) -> None:
    """Jinja's i18n extension, its `_`/`gettext`/`ngettext` backed by this module."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True
    )
