"""`trustline eval`: the shared scorer's figures, broken down so one can see where it errs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from nlp.scoring import format_report, score

TRUSTLINE = str(Path(sys.executable).with_name("trustline"))
CORPUS_DEV = Path(__file__).parents[1] / "nlp" / "training" / "en" / "corpus" / "dev.jsonl"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRUSTLINE, "eval", *args], capture_output=True, text=True)


def fact(kind: str, start: int = 0, **attrs: Any) -> dict[str, Any]:
    ev = {"start": start, "end": start + 1, "text": "x"}
    return {"kind": kind, "evidence": ev, "confidence": 0.9, **attrs}


def test_the_figures_are_the_shared_scorers(shared_data: Path, tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(CORPUS_DEV.read_text(encoding="utf-8").splitlines(True)[:120]))
    ours = json.loads(run(str(gold), "--json").stdout)
    shared = subprocess.run(
        [
            sys.executable,
            str(shared_data.parent / "tools" / "score_extraction.py"),
            str(gold),
            "--cmd",
            f"{TRUSTLINE} extract --jsonl",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(shared.stdout)
    for kind in ("preference", "complaint", "consent", "sensitive", "all"):
        assert ours[kind] == theirs[kind], kind
    assert ours["leaks"] == theirs["leaks"]
    assert ours["complaint_attr_accuracy"] == theirs["complaint_attr_accuracy"]


def test_breakdown_and_confusion_show_a_category_swap() -> None:
    items = [
        {
            "id": "a",
            "text": "parcel crushed; staff rude",
            "gold": [
                {"kind": "complaint", "category": "delivery", "severity": "medium"},
                {"kind": "complaint", "category": "service", "severity": "medium"},
                {
                    "kind": "preference",
                    "field": "interest",
                    "value": "running shoes",
                    "polarity": "positive",
                },
            ],
        }
    ]
    results = [
        {
            "id": "a",
            "redacted_text": items[0]["text"],
            "facts": [
                fact("complaint", 0, category="product_quality", severity="medium"),
                fact("complaint", 5, category="service", severity="high"),
                fact("complaint", 9, category="billing", severity="low"),
                fact(
                    "preference", field="interest", value="nike running shoe", polarity="positive"
                ),
            ],
        }
    ]
    report = score(items, results).as_dict()
    assert report["complaint"] == {
        "tp": 1,
        "fp": 2,
        "fn": 1,
        "precision": 0.333,
        "recall": 0.5,
        "f1": 0.4,
    }
    assert report["preference"]["tp"] == 1
    assert report["by_group"]["complaint"]["delivery"]["fn"] == 1
    assert report["by_group"]["complaint"]["product_quality"]["fp"] == 1
    confusion = {(c["gold"], c["predicted"]): c["count"] for c in report["complaint_confusion"]}
    assert confusion == {
        ("service", "service"): 1,
        ("delivery", "product_quality"): 1,
        ("none", "billing"): 1,
    }
    assert report["complaint_attr_accuracy"]["severity"] == 0.0
    text = format_report(score(items, results))
    assert "complaint category confusion" in text and "product_quality" in text


def test_a_result_missing_or_in_error_counts_its_gold_as_missed() -> None:
    items = [
        {
            "id": "a",
            "text": "t",
            "gold": [{"kind": "consent", "action": "erase", "purpose": "all"}],
        },
        {
            "id": "b",
            "text": "u",
            "gold": [{"kind": "sensitive", "category": "health", "span": "u"}],
        },
    ]
    report = score(items, [{"id": "b", "error": "too long"}]).as_dict()
    assert (report["missing"], report["errors"]) == (1, 1)
    assert report["consent"]["fn"] == 1 and report["sensitive"]["fn"] == 1


def test_the_command_prints_tables_and_refuses_bad_gold(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps(
            {
                "id": "x",
                "text": "cust prefers email, card 4111 1111 1111 1111",
                "gold": [
                    {
                        "kind": "preference",
                        "field": "contact_channel",
                        "value": "email",
                        "polarity": "positive",
                    }
                ],
            }
        )
        + "\n"
    )
    out = run(str(gold), "--show-misses", "5")
    assert out.returncode == 0, out.stderr
    assert "preference by field" in out.stdout and "contact_channel" in out.stdout
    assert "4111" not in out.stdout  # misses show facts, never the raw card
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "ok"}\n{not json\n')
    out = run(str(bad))
    assert out.returncode != 0
    assert "bad.jsonl:2" in out.stderr and "Traceback" not in out.stderr
