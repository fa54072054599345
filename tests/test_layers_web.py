"""The web layer's bottom (`assistant/web/`: problem documents, request parsing, the
storage 503) imports nothing of the assistant above it, and nothing below the web layer
imports it or Flask (issue 14, docs/architecture.md). Imports are read with ast, as in
tests/test_architecture.py, following every module of assistant/ a module imports."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_architecture import PACKAGE, ROOT, WEB, forbidden, reachable

BOTTOM_WEB = sorted((PACKAGE / "web").glob("*.py"))
# What assistant/web/ may import of the assistant: itself and the error-code registry.
WEB_MAY_IMPORT = ("assistant.web", "assistant.errors")
BELOW_WEB = ("store", "domain", "services")


def above(start: list[Path], allowed: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """Imports of assistant modules outside `allowed`, from `start` and what it reaches."""
    return sorted(
        f"{module} imports {imported}"
        for module, names in reachable(start, root).items()
        for imported in names
        if imported.split(".")[0] == "assistant"
        and imported != "assistant"
        and not any(imported == a or imported.startswith(a + ".") for a in allowed)
    )


def test_the_web_bottom_is_where_the_docs_say() -> None:
    assert {p.stem for p in BOTTOM_WEB} >= {"problems", "inputs", "storage"}
    assert not (PACKAGE / "api" / "errors.py").exists()


def test_the_web_bottom_imports_nothing_above_it() -> None:
    assert above(BOTTOM_WEB, WEB_MAY_IMPORT) == []


@pytest.mark.parametrize("layer", BELOW_WEB)
def test_nothing_below_the_web_imports_flask_or_the_web(layer: str) -> None:
    modules = sorted((PACKAGE / layer).rglob("*.py"))
    assert modules
    assert forbidden(modules, WEB[:2]) == []  # flask, werkzeug
    assert [
        f"{module} imports {imported}"
        for module, names in reachable(modules).items()
        for imported in names
        if imported == "assistant.web" or imported.startswith("assistant.web.")
    ] == []


def test_the_checks_see_an_upward_import(tmp_path: Path) -> None:
    # On a copy where the web bottom reaches the services through a helper, and a store
    # module imports flask: both checks above would fail on it.
    copy = tmp_path / "assistant"
    (copy / "web").mkdir(parents=True)
    (copy / "store").mkdir()
    (copy / "__init__.py").write_text("")
    (copy / "store" / "__init__.py").write_text("")
    (copy / "store" / "db.py").write_text("import flask\n")
    (copy / "helpers.py").write_text("from . import services\n")
    (copy / "services.py").write_text("")
    (copy / "web" / "__init__.py").write_text("")
    (copy / "web" / "problems.py").write_text("from .. import errors, helpers\n")
    (copy / "errors.py").write_text("")
    found = above(sorted((copy / "web").glob("*.py")), WEB_MAY_IMPORT, tmp_path)
    assert found == [
        "assistant.helpers imports assistant.services",
        "assistant.web.problems imports assistant.helpers",
    ]
    assert forbidden([copy / "store" / "db.py"], WEB[:2], tmp_path) == [
        "assistant.store.db imports flask"
    ]
