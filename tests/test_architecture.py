"""The layers keep to docs/architecture.md (issue 14): the domain imports neither Flask
nor a database engine, and the store interface imports no engine. Imports are read with
ast (nothing is imported), following every module of assistant/ a module imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "assistant"
WEB = ("flask", "werkzeug", "click")
ENGINES = ("sqlite3", "sqlite_utils", "psycopg", "psycopg_pool")


def module_path(name: str, root: Path = ROOT) -> Path | None:
    """The file of module `name` of the assistant package, if it is one."""
    parts = name.split(".")
    if parts[0] != "assistant":
        return None
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """The modules `path` imports (absolute names; relative imports resolved), and for
    `from x import y` also x.y, which may be a submodule."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def reachable(start: list[Path], root: Path = ROOT) -> dict[str, set[str]]:
    """Every module of assistant/ reachable from `start` (and their packages'
    __init__), with the imports each one makes."""
    seen: dict[str, set[str]] = {}
    todo = list(start)
    while todo:
        path = todo.pop()
        name = module_name(path, root)
        if name in seen:
            continue
        seen[name] = imports_of(path, root)
        parents = name.split(".")
        # Packages' __init__ run first, but not the top one: `assistant` is the app
        # factory (Flask), the root every layer hangs from, not a layer.
        for n in range(2, len(parents)):
            parent = module_path(".".join(parents[:n]), root)
            if parent is not None:
                todo.append(parent)
        for imported in seen[name]:
            found = module_path(imported, root)
            if found is not None:
                todo.append(found)
    return seen


def forbidden(start: list[Path], banned: tuple[str, ...], root: Path = ROOT) -> list[str]:
    return sorted(
        f"{module} imports {imported}"
        for module, imported_names in reachable(start, root).items()
        for imported in imported_names
        if imported.split(".")[0] in banned
    )


DOMAIN = sorted((PACKAGE / "domain").glob("*.py"))


def test_the_domain_is_where_the_docs_say() -> None:
    names = {p.stem for p in DOMAIN}
    assert {"customers", "consent_ledger", "facts", "notes", "rights", "events"} <= names


@pytest.mark.parametrize("banned", [WEB, ENGINES], ids=["web", "engines"])
def test_the_domain_imports_neither_the_web_nor_an_engine(banned: tuple[str, ...]) -> None:
    assert forbidden(DOMAIN, banned) == []


def test_the_store_interface_imports_no_engine() -> None:
    interface = PACKAGE / "store" / "interface.py"
    assert interface.is_file()
    assert forbidden([interface], ENGINES + WEB) == []


def test_the_check_sees_an_import_through_another_module(tmp_path: Path) -> None:
    # The walk itself, on a copy of the domain where one module imports flask through a
    # helper of another package: the test above would fail on it.
    copy = tmp_path / "assistant"
    (copy / "domain").mkdir(parents=True)
    (copy / "__init__.py").write_text("")
    for path in DOMAIN:
        (copy / "domain" / path.name).write_text(path.read_text(encoding="utf-8"))
    (copy / "helpers.py").write_text("import flask\n")
    notes = copy / "domain" / "notes.py"
    notes.write_text(notes.read_text(encoding="utf-8") + "\nfrom .. import helpers\n")
    found = forbidden(sorted((copy / "domain").glob("*.py")), WEB, tmp_path)
    assert found == ["assistant.helpers imports flask"]


SQL = re.compile(
    r"\b(SELECT|INSERT (OR \w+ )?INTO|REPLACE INTO|UPDATE \w+ SET|DELETE FROM|PRAGMA"
    r"|(CREATE|DROP|ALTER) (TABLE|INDEX|TRIGGER|VIEW))\b"
)


def sql_in(paths: list[Path]) -> list[str]:
    """The string constants of `paths` that read as SQL statements."""
    return sorted(
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in paths
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    )


@pytest.mark.parametrize("layer", ["domain", "services"])
def test_sql_is_written_in_the_store_only(layer: str) -> None:
    assert sql_in(sorted((PACKAGE / layer).glob("*.py"))) == []


def test_the_sql_check_sees_a_statement() -> None:
    # The store writes SQL: the check finds it there.
    assert sql_in([PACKAGE / "store" / "sqlite" / "store.py"])


# What only the store may know of its engine: the ids SQLite reports for inserted rows
# (`cursor.lastrowid`) and how it learns of other connections' commits (`PRAGMA
# data_version`). PostgreSQL has neither.
ENGINE_NAMES = ("lastrowid", "data_version")


def storage_in(paths: list[Path], root: Path = ROOT) -> list[str]:
    """Where `paths` write SQL (a string constant that reads as a statement) or use
    `lastrowid` or `data_version` (as a name, an attribute or in a string)."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            what = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SQL.search(node.value):
                    what = "SQL"
                elif any(name in node.value for name in ENGINE_NAMES):
                    what = next(name for name in ENGINE_NAMES if name in node.value)
            elif isinstance(node, ast.Attribute) and node.attr in ENGINE_NAMES:
                what = node.attr
            elif isinstance(node, ast.Name) and node.id in ENGINE_NAMES:
                what = node.id
            if what is not None:
                found.append(f"{path.relative_to(root)}:{node.lineno} {what}")
    return sorted(found)


def outside_the_store(package: Path) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if p.relative_to(package).parts[0] != "store")


def test_no_module_outside_the_store_writes_sql() -> None:
    # Every statement, the ids of inserted rows and the change token live in
    # assistant/store/ (issue 14): the web, webhook and CLI layers call its methods.
    paths = outside_the_store(PACKAGE)
    assert len(paths) > 50  # the walk found the package
    assert storage_in(paths) == []


def test_the_storage_check_sees_sql_lastrowid_and_data_version(tmp_path: Path) -> None:
    package = tmp_path / "assistant"
    (package / "store").mkdir(parents=True)
    (package / "webhooks").mkdir()
    (package / "store" / "db.py").write_text('Q = "SELECT 1"\n')  # the store may
    (package / "webhooks" / "ok.py").write_text('"""Select what to send."""\n')
    (package / "webhooks" / "worker.py").write_text(
        "def f(db, n):\n"
        '    cur = db.execute(f"UPDATE webhook_deliveries SET claim = NULL WHERE id = {n}")\n'
        "    v = db.execute('PRAGMA data_version')\n"
        "    return cur.lastrowid, v\n"
    )
    (package / "auth.py").write_text(
        'SQL = (\n    "INSERT INTO api_keys (name) "\n    "VALUES (?)"\n)\n'
        "version = 'data_version'\n"
    )
    assert storage_in(outside_the_store(package), tmp_path) == [
        "assistant/auth.py:2 SQL",
        "assistant/auth.py:5 data_version",
        "assistant/webhooks/worker.py:2 SQL",
        "assistant/webhooks/worker.py:3 SQL",
        "assistant/webhooks/worker.py:4 lastrowid",
    ]
