"""One error-code registry (assistant/errors.py): every code the source, the tests and
the docs use is in it, every code in it is used, and docs/errors.md is its rendering."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from assistant import errors

ROOT = Path(__file__).parents[1]
CODE = re.compile(r"\bTL\d{3}\b")
# The formats the registry replaced (TLW001, ID001...): none may come back.
OLD_FORMATS = re.compile(r"\b(TLW\d{3}|ID\d{3})\b")
SOURCE = sorted(
    p
    for p in [*(ROOT / "assistant").rglob("*.py"), *(ROOT / "nlp").rglob("*.py")]
    if p != ROOT / "assistant" / "errors.py"
)
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    ROOT / "benchmarks" / "README.md",
]
TESTS = sorted(p for p in (ROOT / "tests").glob("*.py") if p.name != "test_errors.py")


def codes_in(paths: list[Path], root: Path = ROOT) -> dict[str, list[str]]:
    """Each code the files at `paths` mention, with the files."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for code in CODE.findall(path.read_text(encoding="utf-8")):
            found.setdefault(code, []).append(str(path.relative_to(root)))
    return found


def test_codes_are_unique_and_follow_one_format() -> None:
    codes = [e.code for e in errors.REGISTRY]
    assert len(codes) == len(set(codes)) == len(errors.BY_CODE)
    assert all(re.fullmatch(r"TL\d{3}", c) for c in codes)
    for e in errors.REGISTRY:
        assert e.title and e.meaning.endswith(".")
        assert e.status is None or 400 <= e.status < 600


def test_every_code_used_is_registered() -> None:
    used = codes_in(SOURCE + DOCS + TESTS)
    assert {c: where for c, where in used.items() if c not in errors.BY_CODE} == {}


def test_every_registered_code_is_used_in_the_source() -> None:
    used = codes_in(SOURCE)
    assert [c for c in errors.BY_CODE if c not in used] == []


def test_the_old_formats_are_gone() -> None:
    hits = [
        f"{p.relative_to(ROOT)}: {m}"
        for p in SOURCE + DOCS + TESTS
        for m in OLD_FORMATS.findall(p.read_text(encoding="utf-8"))
    ]
    assert hits == []


def test_the_docs_page_is_current() -> None:
    # Regenerate with `python -m assistant.errors`.
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == errors.markdown()


def test_the_module_writes_the_page(tmp_path: Path) -> None:
    target = tmp_path / "errors.md"
    proc = subprocess.run(
        [sys.executable, "-m", "assistant.errors", str(target)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert target.read_text(encoding="utf-8") == errors.markdown()
    assert "| `TL401` | Webhook setting unusable | - |" in errors.markdown()


def test_the_check_sees_an_unregistered_code(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text('raise SystemExit("TL999 nothing; see TL001")\n', encoding="utf-8")
    used = codes_in([stray], tmp_path)
    assert sorted(c for c in used if c not in errors.BY_CODE) == ["TL999"]


def test_the_registry_imports_nothing_of_the_assistant() -> None:
    # Every layer may read it, the web bottom included (tests/test_layers_web.py).
    tree = ast.parse((ROOT / "assistant" / "errors.py").read_text(encoding="utf-8"))
    imported = [
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    stdlib = {"__future__", "sys", "dataclasses", "pathlib"}
    assert set(imported) <= stdlib
