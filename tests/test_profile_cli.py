"""The profile commands of `trustline`, run as a user would, on a real database file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TRUSTLINE = str(Path(sys.executable).with_name("trustline"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "TRUSTLINE_DATABASE": str(tmp_path / "cli.db")}


def run(env: dict[str, str], *args: str, stdin: str = "", check: bool = True) -> Any:
    proc = subprocess.run(
        [TRUSTLINE, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_customer_note_consent_profile_round_trip(env: dict[str, str]) -> None:
    out = run(
        env,
        "customer",
        "add",
        "crm-42",
        "--name",
        "Grace Hopper",
        "--email",
        "grace@example.com",
        "--identity",
        "crm:42",
        "--identity",
        "helpdesk:7",
    )
    customer = json.loads(out.stdout)
    assert customer["created"] is True and len(customer["identities"]) == 2
    run(
        env,
        "consent",
        "grant",
        "crm-42",
        "--purpose",
        "personalization",
        "--agent",
        "a-1",
        "--evidence",
        "Customer said yes to tailored offers",
    )
    stored = json.loads(
        run(
            env,
            "ingest",
            "crm-42",
            "--agent",
            "a-1",
            stdin="Loves vintage cameras. Prefers email, no calls. Card 4111 1111 1111 1111.",
        ).stdout
    )
    assert "4111" not in stored["note"]["redacted_text"]
    assert {f["field"] for f in stored["facts"]} >= {"interest", "contact_channel"}
    view = json.loads(run(env, "profile", "crm-42", "--json").stdout)
    assert view["consents"]["personalization"]["status"] == "granted"
    human = run(env, "profile", "crm-42").stdout
    assert "Grace Hopper" in human and "interest" in human
    run(
        env,
        "consent",
        "withdraw",
        "crm-42",
        "--purpose",
        "personalization",
        "--agent",
        "a-1",
        "--evidence",
        "Customer asked to stop",
    )
    view = json.loads(run(env, "profile", "crm-42", "--json").stdout)
    assert not [f for f in view["preferences"] if f["field"] == "interest"]
    export = json.loads(run(env, "export", "crm-42").stdout)
    assert [c["status"] for c in export["consents"]] == ["granted", "withdrawn"]


def test_unknown_customer_is_a_clear_error(env: dict[str, str]) -> None:
    proc = run(env, "ingest", "nobody", "--agent", "a", stdin="Prefers email.", check=False)
    assert proc.returncode != 0
    assert "customer 'nobody' not found" in proc.stderr


def test_erase_then_audit_verify_and_tamper_detection(env: dict[str, str]) -> None:
    run(env, "customer", "add", "c-9", "--name", "Temporary Person")
    run(env, "ingest", "c-9", "--agent", "a", stdin="Prefers post.")
    out = json.loads(run(env, "erase", "c-9", "--yes").stdout)
    assert out["erased"] is True
    assert run(env, "profile", "c-9", check=False).returncode != 0
    assert "intact" in run(env, "audit", "verify").stdout
    conn = sqlite3.connect(env["TRUSTLINE_DATABASE"])
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit_log SET action = 'nothing.happened' WHERE id = 1")
    conn.commit()
    conn.close()
    broken = run(env, "audit", "verify", check=False)
    assert broken.returncode == 1 and "BROKEN at entry 1" in broken.stderr


def test_keys_create_prints_the_key_last_and_stores_only_its_hash(env: dict[str, str]) -> None:
    out = run(env, "keys", "create", "crm-sync", "--scope", "read", "--scope", "write").stdout
    key = out.split()[-1]
    assert key.startswith("tl_")
    raw = Path(env["TRUSTLINE_DATABASE"]).read_bytes()
    wal = Path(env["TRUSTLINE_DATABASE"] + "-wal")
    assert key.encode() not in raw + (wal.read_bytes() if wal.exists() else b"")
    bad = run(env, "keys", "create", "x", "--scope", "root", check=False)
    assert bad.returncode != 0


def test_db_migrate_purge_and_policy_report(env: dict[str, str]) -> None:
    assert "up to date" in run(env, "db", "migrate").stdout
    assert json.loads(run(env, "purge").stdout) is not None
    report = run(env, "policy", "report").stdout
    for word in ("personalization", "marketing", "legitimate", "retention"):
        assert word in report.lower()
