"""The `trustline` command is a package without an import cycle (issue 14): its root
(`assistant/cli/__init__.py`) builds the click group and adds each module's commands;
no command module imports the root back, and nothing below the CLI imports it."""

from __future__ import annotations

import ast
from pathlib import Path

from test_architecture import PACKAGE, ROOT, imports_of, module_name

CLI = PACKAGE / "cli"
MODULES = sorted(p for p in CLI.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))


def root_imports(path: Path, root: Path = ROOT) -> list[str]:
    """The names `path` imports from the package `assistant.cli` itself (not from one of
    its submodules): `from . import main`, `from assistant.cli import main`."""
    package = module_name(path, root).rpartition(".")[0]
    submodules = {p.stem for p in path.parent.glob("*.py")}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            relative = ".".join(base + ([node.module] if node.module else []))
            target = relative if node.level else node.module or ""
            if target == "assistant.cli":
                found += [a.name for a in node.names if a.name not in submodules]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "assistant.cli"]
    return found


def test_the_commands_are_modules_of_one_package() -> None:
    assert {p.stem for p in MODULES} >= {
        "extract",
        "train",
        "serve",
        "evaluate",
        "database",
        "customers",
        "consent",
        "rights",
        "admin",
    }
    for gone in ("cli.py", "commands.py", "eval_command.py"):
        assert not (PACKAGE / gone).exists()
    assert "trustline = assistant.cli:main" in (ROOT / "setup.cfg").read_text(encoding="utf-8")


def test_no_command_module_imports_the_root_back() -> None:
    assert {p.name: root_imports(p) for p in MODULES if root_imports(p)} == {}


def test_nothing_outside_the_cli_imports_it() -> None:
    outside = [p for p in PACKAGE.rglob("*.py") if CLI not in p.parents]
    assert [
        f"{module_name(p)} imports {name}"
        for p in outside
        for name in imports_of(p)
        if name == "assistant.cli" or name.startswith("assistant.cli.")
    ] == []


def test_the_dead_migrate_command_is_gone() -> None:
    assert "migrate_command" not in (PACKAGE / "store" / "sqlite" / "db.py").read_text()


def test_the_check_sees_an_import_of_the_root(tmp_path: Path) -> None:
    package = tmp_path / "assistant" / "cli"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from . import extract\n")
    (package / "common.py").write_text("")
    extract = package / "extract.py"
    extract.write_text("from . import common, main\nfrom .common import x\n")
    assert root_imports(extract, tmp_path) == ["main"]
