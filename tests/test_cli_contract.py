"""`trustline extract` as a user runs it: a real process, JSON lines in and out.

The contract is ../shared/extraction-schema.md ("Command-line form"); these tests need
only the installed package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nlp import Extractor

CARD = "4111 1111 1111 1111"
HUGE = "late again " * 190_000  # about 2 MB: over the default 100,000 character limit


def trustline_cmd() -> list[str]:
    """The installed `trustline` script next to this interpreter, else `-m assistant.cli`."""
    script = Path(sys.executable).with_name("trustline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "assistant.cli"]


def run(
    args: list[str],
    *,
    stdin: str | Path = "",
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `trustline ARGS` with `stdin` (a string, or a file to redirect from)."""
    kwargs: dict[str, Any] = {
        "capture_output": True,
        "encoding": "utf-8",
        "env": {**os.environ, **(env or {})},
        "timeout": timeout,
    }
    if isinstance(stdin, Path):
        with stdin.open("rb") as handle:
            return subprocess.run([*trustline_cmd(), *args], stdin=handle, **kwargs)
    return subprocess.run([*trustline_cmd(), *args], input=stdin, **kwargs)


def jsonl_lines(stdout: str) -> list[str]:
    """Output lines as JSON Lines defines them: split at "\\n" only."""
    return stdout.removesuffix("\n").split("\n") if stdout else []


@dataclass(frozen=True)
class Line:
    """One input line and what its output line must carry."""

    raw: str
    id: Any = None
    text: str | None = None  # None: the line must come back as an error


def ok(ident: Any, text: str, **extra: Any) -> Line:
    return Line(json.dumps({"id": ident, "text": text, **extra}, ensure_ascii=False), ident, text)


def bad(raw: str, ident: Any = None) -> Line:
    return Line(raw, ident, None)


# Labels name what each line exercises; blank lines produce no output at all.
LINES: dict[str, Line] = {
    "string_id": ok("n-1", f"Cust prefers email, no calls pls. Card {CARD} declined again."),
    "blank": Line(""),
    "int_id": ok(2, "Parcel late AGAIN, 3rd time. Wants a refund."),
    "whitespace_line": Line("   \t "),
    "null_id": ok(None, "Speaks French, prefers it. Call after 6pm."),
    "missing_id": Line(
        '{"text": "Text me instead of calling."}', None, "Text me instead of calling."
    ),
    "other_keys_ignored": ok("n-5", "Wants store pickup.", source="note", gold=[1, 2]),
    "big_int_id": ok(12345678901234567890, "Prefers paypal."),
    "unicode": ok("n-ü", "Kundin 😡 — prefers WhatsApp; مرحبا"),
    "unicode_line_separators": ok("n-sep", "line\u2028sep\u0085nel, prefers sms"),
    "invalid_json": bad('{"id": "broken", "text": '),
    "missing_text": bad('{"id": "no-text", "note": "prefers email"}', "no-text"),
    "int_text": bad('{"id": "int-text", "text": 42}', "int-text"),
    "null_text": bad('{"id": "null-text", "text": null}', "null-text"),
    "array_line": bad('["id", "text"]'),
    "string_line": bad('"just a string"'),
    "huge_text": bad(json.dumps({"id": "huge", "text": HUGE}), "huge"),
    "after_huge": ok("after-huge", "Wants a call back in the morning."),
    "last": ok("last", f"card {CARD} and email me please"),
}
OUTPUT_LABELS = [label for label, line in LINES.items() if line.raw.strip()]
OK_LABELS = [label for label in OUTPUT_LABELS if LINES[label].text is not None]
ERROR_LABELS = [label for label in OUTPUT_LABELS if LINES[label].text is None]


@pytest.fixture(scope="module")
def notes_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "notes.jsonl"
    path.write_text("".join(line.raw + "\n" for line in LINES.values()), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=[2, 64], ids=lambda n: f"batch{n}")
def jsonl_run(
    request: pytest.FixtureRequest, notes_file: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    """One `trustline extract --jsonl < notes.jsonl` run; outputs keyed by input label.

    Batch size 2 makes error lines and the huge line fall on batch boundaries.
    """
    proc = run(["extract", "--jsonl", "--batch-size", str(request.param)], stdin=notes_file)
    lines = jsonl_lines(proc.stdout)
    assert len(lines) == len(OUTPUT_LABELS), proc.stderr[-2000:]
    return proc, {label: json.loads(text) for label, text in zip(OUTPUT_LABELS, lines, strict=True)}


def test_jsonl_exits_zero_despite_bad_lines(jsonl_run: Any) -> None:
    proc, _ = jsonl_run
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_jsonl_keeps_ids_and_order(jsonl_run: Any) -> None:
    _, outputs = jsonl_run
    assert [out["id"] for out in outputs.values()] == [LINES[k].id for k in OUTPUT_LABELS]
    # "id" comes first, so a reader of the raw file sees it at once
    assert all(next(iter(out)) == "id" for out in outputs.values())


@pytest.mark.parametrize("label", OK_LABELS)
def test_jsonl_result_obeys_contract(
    jsonl_run: Any, contract: Callable[[str, dict[str, Any]], None], label: str
) -> None:
    _, outputs = jsonl_run
    text = LINES[label].text
    assert text is not None
    contract(text, outputs[label])


@pytest.mark.parametrize("label", ERROR_LABELS)
def test_jsonl_bad_line_gets_one_line_error(jsonl_run: Any, label: str) -> None:
    _, outputs = jsonl_run
    out = outputs[label]
    assert set(out) == {"id", "error"}
    assert out["id"] == LINES[label].id
    assert isinstance(out["error"], str) and out["error"].strip()
    assert "\n" not in out["error"]


def test_jsonl_too_long_text_error_names_the_limit(jsonl_run: Any) -> None:
    _, outputs = jsonl_run
    assert "TRUSTLINE_MAX_TEXT_CHARS" in outputs["huge_text"]["error"]
    assert outputs["after_huge"]["redacted_text"] == LINES["after_huge"].text


@pytest.mark.parametrize("label", ["string_id", "last"])
def test_jsonl_masks_card_numbers(jsonl_run: Any, label: str) -> None:
    _, outputs = jsonl_run
    out = outputs[label]
    assert "[PAYMENT_CARD]" in out["redacted_text"]
    assert CARD not in out["redacted_text"]
    assert any(f["kind"] == "sensitive" and f["category"] == "payment_card" for f in out["facts"])


# Found while writing these tests: the trained complaint classifier
# (trustline_textcat) raises IndexError in thinc's ngrams when one nlp.pipe batch mixes
# an empty text with non-empty ones, so one empty note kills the whole run.


def test_jsonl_empty_text_has_no_facts(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(
        '{"id": 1, "text": "prefers email"}\n{"id": 2, "text": ""}\n{"id": 3, "text": "ok"}\n',
        encoding="utf-8",
    )
    proc = run(["extract", "--jsonl"], stdin=path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = [json.loads(line) for line in jsonl_lines(proc.stdout)]
    assert outputs[1] == {"id": 2, "redacted_text": "", "facts": []}
    assert [o["id"] for o in outputs] == [1, 2, 3]


def test_jsonl_matches_python_api(jsonl_run: Any, extractor: Extractor) -> None:
    """The command line and the library give the same result for the same text."""
    _, outputs = jsonl_run
    for label in OK_LABELS:
        text = LINES[label].text
        assert text is not None
        expected = extractor.extract(text).to_dict()
        assert {k: v for k, v in outputs[label].items() if k != "id"} == {
            k: v for k, v in expected.items() if k != "id"
        }, label


def test_progress_goes_to_stderr_only(notes_file: Path) -> None:
    proc = run(["extract", "--jsonl", "--progress", "--batch-size", "2", str(notes_file)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = jsonl_lines(proc.stdout)
    assert len(lines) == len(OUTPUT_LABELS)
    for text in lines:
        json.loads(text)
    assert "\r" not in proc.stdout
    assert "lines" in proc.stderr and "100.0%" in proc.stderr


# Found while writing these tests: output is written with ensure_ascii=False, so U+2028,
# U+2029 and U+0085 in a note reach stdout raw, and a reader that splits with
# str.splitlines(), as ../shared/tools/score_extraction.py does, cuts the line in two.


def test_jsonl_output_survives_splitlines(jsonl_run: Any) -> None:
    proc, _ = jsonl_run
    assert proc.stdout.splitlines() == jsonl_lines(proc.stdout)


# Found while writing these tests: a lone surrogate escape ("\ud800") is valid JSON, but
# spaCy cannot hash it, so the whole run dies with a traceback and loses every line of
# the batch, instead of one error line.


def test_jsonl_lone_surrogate_is_a_line_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(
        '{"id": 1, "text": "prefers email"}\n'
        '{"id": 2, "text": "bad \\ud800 text"}\n'
        '{"id": 3, "text": "prefers sms"}\n',
        encoding="utf-8",
    )
    proc = run(["extract", "--jsonl"], stdin=path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = [json.loads(line) for line in jsonl_lines(proc.stdout)]
    assert [o["id"] for o in outputs] == [1, 2, 3]
    assert "facts" in outputs[0] and "facts" in outputs[2]


NOTE = (
    "Customer prefers email, call after 6pm only. "
    f"Card {CARD} was charged twice this month, furious, 3rd time calling about it."
)


@pytest.fixture(scope="module")
def summary_run() -> subprocess.CompletedProcess[str]:
    return run(["extract"], stdin=NOTE)


def test_plain_extract_prints_a_summary_of_every_fact(
    summary_run: subprocess.CompletedProcess[str], extractor: Extractor
) -> None:
    assert summary_run.returncode == 0, summary_run.stderr[-2000:]
    out = summary_run.stdout
    result = extractor.extract(NOTE)
    assert result.facts, "the note should yield facts, or this test checks nothing"
    assert f"Redacted: {result.redacted_text}" in out
    for fact in result.facts:
        assert fact.kind in out
        for key, value in fact.attrs.items():
            if not isinstance(value, bool):  # `repeat` shows as the word "repeat"
                assert str(value) in out, (key, value)
            elif value:
                assert key in out, key


# Found while writing these tests: the summary prints the evidence of complaints and
# preferences as written, so a card number inside a complaint clause reaches the terminal.


def test_plain_extract_summary_never_shows_a_secret(
    summary_run: subprocess.CompletedProcess[str],
) -> None:
    assert "[PAYMENT_CARD]" in summary_run.stdout
    assert CARD not in summary_run.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], ["extract", "serve"]),
        (["extract", "--help"], ["--jsonl", "--progress", "--batch-size", "INPUT"]),
        (["serve", "--help"], ["--host", "--port"]),
    ],
    ids=["main", "extract", "serve"],
)
def test_help_works(args: list[str], expected: list[str]) -> None:
    proc = run(args)
    assert proc.returncode == 0, proc.stderr
    assert "Usage:" in proc.stdout
    for word in expected:
        assert word in proc.stdout


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["extract"], {"TRUSTLINE_SPACY_MODEL": "no_such_model"}),
        (["extract", "--jsonl", "--model", "no_such_model"], {}),
    ],
    ids=["env", "option"],
)
def test_missing_model_fails_with_install_hint(args: list[str], env: dict[str, str]) -> None:
    proc = run(args, stdin='{"id": 1, "text": "prefers email"}\n', env=env)
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "TL001" in proc.stderr
    assert "pip install" in proc.stderr
    assert "no_such_model" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_dev_notes_all_obey_contract(
    shared_data: Path, contract: Callable[[str, dict[str, Any]], None]
) -> None:
    """Every annotated dev note (extra keys such as `gold` included) gets a valid result."""
    path = shared_data / "notes-dev.jsonl"
    notes = [json.loads(line) for line in jsonl_lines(path.read_text(encoding="utf-8")) if line]
    proc = run(["extract", "--jsonl"], stdin=path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = [json.loads(line) for line in jsonl_lines(proc.stdout)]
    assert [o["id"] for o in outputs] == [n["id"] for n in notes]
    for note, out in zip(notes, outputs, strict=True):
        contract(note["text"], out)
