"""`trustline extract`: facts from a note, or from JSON lines one result each."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

import click

from nlp import ExtractionResult, Extractor, Fact, TrustlineNLPError
from nlp.redaction import sensitive_spans, to_redacted

from .. import settings
from .common import load_extractor


class Progress:
    """A progress bar on stderr: percent of bytes when the input size is known."""

    def __init__(self, stream: IO[str], enabled: bool) -> None:
        self.enabled = enabled
        self.total = 0
        self.lines = 0
        self.start = time.monotonic()
        self.last = 0.0
        if enabled:
            try:
                self.total = os.fstat(stream.fileno()).st_size
            except (OSError, ValueError, AttributeError):
                self.total = 0

    def update(self, lines: int, bytes_read: int, final: bool = False) -> None:
        if not self.enabled:
            return
        self.lines = lines
        now = time.monotonic()
        if not final and now - self.last < 0.2:
            return
        self.last = now
        rate = lines / max(now - self.start, 1e-6)
        if self.total:
            frac = min(1.0, bytes_read / self.total)
            bar = "#" * int(frac * 30)
            msg = f"\r[{bar:<30}] {frac:6.1%} {lines:,} lines {rate:,.0f}/s"
        else:
            msg = f"\r{lines:,} lines {rate:,.0f}/s"
        sys.stderr.write(msg + ("\n" if final else ""))
        sys.stderr.flush()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# json.dumps(ensure_ascii=False) keeps these as raw characters, and line-splitting readers
# (str.splitlines) would cut an output line in two.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def dumps_line(obj: dict[str, Any]) -> str:
    """One JSON line that no line-splitting reader can break."""
    out = json.dumps(obj, ensure_ascii=False)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from undecodable input bytes
        return json.dumps(obj, ensure_ascii=True)
    for raw, escaped in _LINE_BREAKS.items():
        out = out.replace(raw, escaped)
    return out


def parse_line(line: str) -> tuple[Any, str | None, str | None]:
    """(id, text, error) for one input line of `extract --jsonl`."""
    try:
        obj = json.loads(line, parse_constant=_reject_constant)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            return None, None, f"invalid JSON: {exc}"
        return None, None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, None, "invalid JSON: nested too deeply"
    if not isinstance(obj, dict):
        return None, None, "each line must be a JSON object with a string 'text'"
    ident = obj.get("id")
    text = obj.get("text")
    if "text" not in obj:
        return ident, None, "missing 'text'"
    if not isinstance(text, str):
        return ident, None, f"'text' must be a string, not {type(text).__name__}"
    return ident, text, None


def one_result(extractor: Extractor, ident: Any, text: str) -> dict[str, Any]:
    """One text's result, or its error line."""
    try:
        return extractor.extract(text, id=ident).to_dict() | {"id": ident}
    except TrustlineNLPError as exc:
        return {"id": ident, "error": str(exc)}


def stream_results(
    extractor: Extractor, lines: Iterator[str], batch_size: int
) -> Iterator[dict[str, Any]]:
    """Results for JSONL input lines, in order, one batch in memory at a time."""
    parsed = (parse_line(line) for line in lines if line.strip())
    return stream_texts(extractor, parsed, batch_size)


def stream_texts(
    extractor: Extractor,
    items: Iterable[tuple[Any, str | None, str | None]],
    batch_size: int,
) -> Iterator[dict[str, Any]]:
    """Results for (id, text, error) items, in order, one batch in memory at a time: an
    item with an error, or a text the extractor refuses, gives its error line."""
    batch: list[tuple[Any, str | None, str | None]] = []

    def flush() -> Iterator[dict[str, Any]]:
        ok = [(i, t) for i, t, e in batch if e is None and t is not None]
        results: Iterator[ExtractionResult] | None
        try:
            done = extractor.extract_many(
                [t for _, t in ok], ids=[i for i, _ in ok], batch_size=batch_size
            )
            results = iter(list(done))
        except TrustlineNLPError:  # a text over its time budget: find it, keep the rest
            results = None
        for ident, text, err in batch:
            if err is not None or text is None:
                yield {"id": ident, "error": err}
            elif results is None:
                yield one_result(extractor, ident, text)
            else:
                yield next(results).to_dict() | {"id": ident}

    for ident, text, err in items:
        if err is None and text is not None:
            try:
                extractor.check(text)
            except TrustlineNLPError as exc:
                err = str(exc)
        batch.append((ident, text, err))
        if len(batch) >= batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def _ordered(result: dict[str, Any]) -> dict[str, Any]:
    return {"id": result.get("id"), **{k: v for k, v in result.items() if k != "id"}}


def masked_evidence(result: ExtractionResult, fact: Fact) -> str:
    """The evidence of `fact` as it reads in the redacted text (secrets masked)."""
    start, end = to_redacted(fact.evidence.start, fact.evidence.end, sensitive_spans(result.facts))
    return result.redacted_text[start:end]


def summary(result: ExtractionResult) -> str:
    """Human-readable summary of one result."""
    lines = [f"Redacted: {result.redacted_text}", ""]
    if not result.facts:
        lines.append("No facts found.")
    for f in result.facts:
        a = f.attrs
        if f.kind == "preference":
            detail = f" ({a['detail']})" if a.get("detail") else ""
            desc = f"{a['field']} = {a['value']}{detail}, {a['polarity']}"
        elif f.kind == "complaint":
            desc = (
                f"{a['category']}, severity {a['severity']}, "
                f"{'repeat, ' if a['repeat'] else ''}{a['status']}"
            )
        elif f.kind == "consent":
            chan = f" via {a['channel']}" if a.get("channel") else ""
            desc = f"{a['action']} {a['purpose']}{chan}"
        else:
            desc = f"{a['category']} (masked)"
        ev = masked_evidence(result, f)
        lines.append(f"- {f.kind:<10} {desc}\n    evidence: {ev!r}")
    return "\n".join(lines)


@click.command()
@click.option("--jsonl", is_flag=True, help="Read {id, text} JSON lines; write one result each.")
@click.option("--progress", is_flag=True, help="Show a progress bar on stderr.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=lambda: settings.BY_NAME["TRUSTLINE_BATCH_SIZE"].read(),
    show_default="TRUSTLINE_BATCH_SIZE or 64",
    help="Texts per nlp.pipe batch.",
)
@click.option("--model", default=None, help="spaCy pipeline package (TRUSTLINE_SPACY_MODEL).")
@click.argument(
    "input", type=click.File("r", encoding="utf-8-sig", errors="surrogateescape"), default="-"
)
def extract(
    jsonl: bool, progress: bool, batch_size: int, model: str | None, input: IO[str]
) -> None:
    """Extract facts from a note or from JSON lines.

    The note is read from INPUT, or from stdin when INPUT is omitted or `-`.

    With --jsonl each input line {"id", "text"} yields one output line
    {"id", "redacted_text", "facts"} in the same order, or {"id", "error"} for a bad line;
    the exit status is 0 unless the input cannot be read.
    """
    extractor = load_extractor(model)
    if not jsonl:
        text = input.read()
        try:
            result = extractor.extract(text)
        except TrustlineNLPError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(summary(result))
        return
    bar = Progress(input, progress)
    counted = {"lines": 0, "bytes": 0}

    def lines() -> Iterator[str]:
        for line in input:
            counted["lines"] += 1
            counted["bytes"] += len(line.encode("utf-8", errors="replace"))
            yield line

    out = sys.stdout
    try:
        for n, row in enumerate(stream_results(extractor, lines(), batch_size), 1):
            out.write(dumps_line(_ordered(row)) + "\n")
            if n % batch_size == 0:
                out.flush()
                bar.update(n, counted["bytes"])
    except OSError as exc:
        raise click.ClickException(f"cannot read input: {exc}") from exc
    out.flush()
    bar.update(counted["lines"], counted["bytes"], final=True)
