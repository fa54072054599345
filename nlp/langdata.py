"""Language data: pattern and lexicon files under nlp/lang/<lang>/, one JSON object each.

Keys starting with "_" document a group and are dropped on load.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from .errors import LanguageDataError

LANG_ROOT = Path(__file__).parent / "lang"


def lang_dir(lang: str) -> Path:
    """Directory holding the data files of `lang` (an ISO 639-1 code)."""
    path = LANG_ROOT / lang
    if not path.is_dir():
        available = ", ".join(sorted(p.name for p in LANG_ROOT.iterdir() if p.is_dir()))
        raise LanguageDataError(
            f"no Trustline language data for '{lang}' (have: {available}); add nlp/lang/{lang}/"
        )
    return path


def strip_docs(value: Any) -> Any:
    """Drop documentation keys ("_doc", "_comment", ...) at every depth."""
    if isinstance(value, dict):
        return {k: strip_docs(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [strip_docs(v) for v in value]
    return value


@cache
def load(lang: str, name: str) -> dict[str, Any]:
    """Load nlp/lang/<lang>/<name>.json without its documentation keys."""
    path = lang_dir(lang) / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LanguageDataError(f"missing language data file {path}") from exc
    except json.JSONDecodeError as exc:
        raise LanguageDataError(f"{path}: invalid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise LanguageDataError(f"{path}: expected a JSON object")
    result: dict[str, Any] = strip_docs(data)
    return result


def load_vocab(path: Path) -> dict[str, list[str]]:
    """A built vocabulary (nlp/lang/<lang>/vocab/*.json, see tools/build_vocab.py); a
    language without one gets empty lists."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"direct": [], "common_words": []}
    except json.JSONDecodeError as exc:
        raise LanguageDataError(f"{path}: invalid JSON ({exc})") from exc
    return {key: [str(t) for t in data.get(key, [])] for key in ("direct", "common_words")}
