"""`trustline` helps the person at the keyboard (issue 15, part 3: help that helps).

Every summary in a command list is a whole sentence, `--purpose` lists the purposes of
the policy in use, an unknown purpose names the valid ones, and a note's consent
proposal can be confirmed from the command line through the same write path as the API
and the sidebar.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.policy import load_policy

TRUSTLINE = str(Path(sys.executable).with_name("trustline"))
SHIPPED_POLICY = Path(__file__).parents[1] / "assistant" / "data" / "policy.json"


def groups(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of `group` and of every group under it."""
    yield path
    for name, sub in group.commands.items():
        if isinstance(sub, click.Group):
            yield from groups(sub, (*path, name))


def listed(path: tuple[str, ...]) -> dict[str, str]:
    """The command list that `trustline PATH --help` prints in an 80-column terminal."""
    out = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
    assert out.exit_code == 0, out.output
    section = out.output.split("Commands:\n", 1)[1]
    found = dict(re.findall(r"^  (\S+)\s+(.+)$", section, flags=re.M))
    assert found, out.output
    return found


def first_paragraph(path: tuple[str, ...]) -> str:
    cmd: click.Command = main
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    text = click.unstyle(cmd.help or "")
    return " ".join(text.strip().split("\n\n", 1)[0].split())


@pytest.mark.parametrize("path", list(groups()), ids=lambda p: " ".join(p) or "trustline")
def test_every_listed_summary_is_a_whole_sentence(path: tuple[str, ...]) -> None:
    for name, summary in listed(path).items():
        where = " ".join([*path, name])
        assert not summary.endswith("..."), f"{where}: cut off: {summary!r}"
        assert summary[0].isupper() and summary.endswith("."), f"{where}: {summary!r}"
        assert summary.count("(") == summary.count(")"), f"{where}: cut off: {summary!r}"
        # Not the start of a longer first sentence (click stops at a word ending in '.').
        assert summary == first_paragraph((*path, name)), where


def commands(
    group: click.Group = main, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under `group`, with its path."""
    for name, sub in group.commands.items():
        yield (*path, name), sub
        if isinstance(sub, click.Group):
            yield from commands(sub, (*path, name))


@pytest.mark.parametrize(
    ("path", "command"), list(commands()), ids=[" ".join(p) for p, _ in commands()]
)
def test_every_option_says_what_it_does(path: tuple[str, ...], command: click.Command) -> None:
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]}: no help"


def test_main_help_says_what_trustline_is() -> None:
    out = CliRunner().invoke(main, ["--help"], terminal_width=80)
    description = out.output.split("Options:")[0].split("\n\n", 1)[1]
    first = " ".join(description.split("\n\n")[0].split())
    assert first.startswith("Trustline ") and first.endswith(".")
    assert "--help" in description


@pytest.fixture
def own_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped policy with one more purpose, named as no hand-written list could."""
    policy = json.loads(SHIPPED_POLICY.read_text(encoding="utf-8"))
    extra = dict(policy["purposes"]["marketing"])
    extra["wording"] = {"text": "May we send you our club letter?", "version": "club-1"}
    policy["purposes"]["loyalty_club_letters"] = extra
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy), encoding="utf-8")
    monkeypatch.setenv("TRUSTLINE_POLICY", str(path))
    return path


@pytest.mark.parametrize("command", ["grant", "withdraw"])
def test_purpose_option_lists_the_policys_purposes(own_policy: Path, command: str) -> None:
    out = CliRunner().invoke(main, ["consent", command, "--help"], terminal_width=80)
    assert out.exit_code == 0, out.output
    help_line = " ".join(out.output.split("--purpose", 1)[1].split("--channel")[0].split())
    for purpose in load_policy(own_policy).purposes:
        assert purpose in help_line, purpose
    assert "loyalty_club_letters" in help_line
    assert ("all" in help_line.split("One of:")[1]) is (command == "withdraw")


@pytest.mark.parametrize("command", ["grant", "withdraw"])
def test_an_unknown_purpose_names_the_valid_ones(
    own_policy: Path, tmp_path: Path, command: str
) -> None:
    env = {**os.environ, "TRUSTLINE_DATABASE": str(tmp_path / "cli.db")}
    args = ["consent", command, "c-1", "--purpose", "newsletter", "--agent", "a-1"]
    proc = subprocess.run(
        [TRUSTLINE, *args, "--evidence", "said yes"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown purpose 'newsletter'" in proc.stderr
    for purpose in load_policy(own_policy).purposes:
        assert purpose in proc.stderr, purpose
    assert "Traceback" not in proc.stderr


def test_the_api_names_the_valid_purposes_too(client: Any, api_headers: dict[str, str]) -> None:
    client.put("/api/v1/customers/c-1", json={"name": "Ada"}, headers=api_headers)
    resp = client.post(
        "/api/v1/customers/c-1/consents",
        json={"purpose": "newsletter", "status": "granted", "evidence": "yes"},
        headers=api_headers,
    )
    assert resp.status_code == 400
    detail = resp.get_json()["detail"]
    assert "unknown purpose 'newsletter'" in detail
    assert all(purpose in detail for purpose in load_policy().purposes)


# -- confirming a note's consent proposal ----------------------------------------------


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TRUSTLINE_DATABASE": str(tmp_path / "cli.db")}


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRUSTLINE, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def ledger(env: dict[str, str]) -> list[dict[str, Any]]:
    with sqlite3.connect(env["TRUSTLINE_DATABASE"]) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM consents ORDER BY id")]


@pytest.fixture
def proposal(env: dict[str, str]) -> dict[str, Any]:
    """A customer whose note holds a consent grant, still a proposal."""
    assert run(env, "customer", "add", "c-7", "--name", "Ada King").returncode == 0
    note = "Happy for us to text her about offers."
    proc = run(env, "ingest", "c-7", "--agent", "a-1", stdin=note)
    assert proc.returncode == 0, proc.stderr
    (found,) = json.loads(proc.stdout)["consent_proposals"]
    assert found["purpose"] == "marketing" and found["channel"] == "sms"
    assert ledger(env) == []
    return dict(found)


def test_confirm_records_the_consent_with_the_policys_wording(
    env: dict[str, str], proposal: dict[str, Any]
) -> None:
    script, version = load_policy().wording("marketing")
    proc = run(env, "consent", "confirm", "c-7", str(proposal["id"]), "--agent", "a-2", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert script in proc.stderr and version in proc.stderr  # what to read out
    (record,) = ledger(env)
    assert (record["purpose"], record["channel"], record["status"]) == (
        "marketing",
        "sms",
        "granted",
    )
    evidence = json.loads(record["evidence"])
    assert evidence["wording"] == script and evidence["wording_version"] == version
    assert evidence["agent"] == "a-2" and evidence["note_id"] == proposal["note_id"]
    assert json.loads(proc.stdout)["id"] == record["id"]
    view = json.loads(run(env, "profile", "c-7", "--json").stdout)
    assert view["consent_proposals"] == []
    assert view["consents"]["marketing"]["channels"] == {"sms": "granted"}

    again = run(env, "consent", "confirm", "c-7", str(proposal["id"]), "--agent", "a-2", "--yes")
    assert again.returncode == 1 and "no pending consent proposal" in again.stderr
    assert len(ledger(env)) == 1


def test_confirm_asks_first_and_writes_nothing_on_no(
    env: dict[str, str], proposal: dict[str, Any]
) -> None:
    proc = run(env, "consent", "confirm", "c-7", str(proposal["id"]), "--agent", "a-2", stdin="n\n")
    assert proc.returncode == 1 and "Did the customer agree" in proc.stderr
    assert ledger(env) == []


def test_confirm_an_unknown_proposal_says_where_to_look(
    env: dict[str, str], proposal: dict[str, Any]
) -> None:
    proc = run(env, "consent", "confirm", "c-7", "999", "--agent", "a-2", "--yes")
    assert proc.returncode == 1
    assert "no pending consent proposal 999" in proc.stderr
    assert "trustline profile c-7" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert ledger(env) == []
