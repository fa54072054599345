"""`trustline eval GOLD.jsonl`: where the extractor errs, per kind, field and category."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nlp.scoring import format_report, score

from .common import load_extractor
from .extract import stream_texts


@click.command(name="eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--show-misses",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    metavar="N",
    help="Also print the first N missed, spurious or leaked facts.",
)
@click.option("--model", default=None, help="spaCy pipeline package (TRUSTLINE_SPACY_MODEL).")
@click.option(
    "--batch-size",
    default=64,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Texts per nlp.pipe batch.",
)
def eval_command(
    gold: Path, as_json: bool, show_misses: int, model: str | None, batch_size: int
) -> None:
    """Score the extractor on annotated texts and show where it errs.

    GOLD holds one {"id", "text", "gold": [facts]} JSON object per line, as in the corpus
    (docs/annotation/). The figures per kind are those of ../shared/tools/score_extraction.py;
    the report adds precision, recall and F1 per preference field, complaint category,
    consent action and purpose, and sensitive category, complaint attribute accuracy, and
    a complaint-category confusion matrix.
    """
    items = []
    for n, line in enumerate(gold.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{gold}:{n}: not a JSON object ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise click.ClickException(f'{gold}:{n}: each line needs a string "text"')
        if not isinstance(row.get("gold", []), list):
            raise click.ClickException(f'{gold}:{n}: "gold" must be a list of facts')
        row.setdefault("id", f"line-{n}")
        items.append(row)
    extractor = load_extractor(model)
    texts = ((item["id"], item["text"], None) for item in items)
    results = list(stream_texts(extractor, texts, batch_size))
    report = score(items, results)
    if as_json:
        out = report.as_dict()
        out["misses"] = out["misses"][:show_misses]
        click.echo(json.dumps(out))
        return
    click.echo(format_report(report))
    for miss in report.misses[:show_misses]:
        click.echo(json.dumps(miss))
