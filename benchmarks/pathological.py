"""Worst-case inputs: is extraction linear in the text's length whatever the text?

    .venv/bin/python benchmarks/pathological.py [--chars N] [--json]

Builds texts of N characters (default 30,000) from repeated shapes that stress the
tokenizer, the identifier scanner's separators and cues, and the rules (digit runs with
every separator, cue words without values, spaces, brackets, markup, emoji), and times
`Extractor.extract` on each against an ordinary text of the same length made of call-note
sentences, measured in the same run. Prints each shape's time and its ratio to the
ordinary text (goal: worst <= 3.0). A text refused by the per-text time budget (TL006)
counts as the budget's length and is marked "refused".
"""

from __future__ import annotations

import argparse
import json
import time

from extract_speed import SENTENCES

from assistant.settings import extractor_options
from nlp import Extractor
from nlp.errors import TrustlineNLPError

GOAL = 3.0
SHAPES = {
    "digit-dash": "4-",
    "digit-space": "4 ",
    "digit-dot": "4.",
    "digit-slash": "4/",
    "digit-comma": "4,",
    "word-space": "a ",
    "alnum-space": "ab1 ",
    "dashes": "-",
    "spaces": " ",
    "newlines": "\n",
    "brackets": "((((]]]]",
    "card-groups": "4111 1111 1111 111 ",
    "cue-no-value": "password is ",
    "pin-cues": "PIN pin#",
    "one-token": "x",
    "markup": "<b>",
    "emoji": "\U0001f600 ",
    "fullwidth-digits": "\uff14\u2013",
    "url": "http://a.b/",
    "number-words": "four two ",
}


def build(shape: str, chars: int) -> str:
    return (shape * (chars // len(shape) + 1))[:chars]


def ordinary(chars: int) -> str:
    out, i = [], 0
    while sum(len(s) + 1 for s in out) < chars:
        out.append(SENTENCES[i % len(SENTENCES)])
        i += 7
    return " ".join(out)[:chars]


def timed(extractor: Extractor, text: str) -> tuple[float, bool]:
    start = time.perf_counter()
    try:
        extractor.extract(text)
    except TrustlineNLPError:
        return time.perf_counter() - start, True
    return time.perf_counter() - start, False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=30_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--shapes", nargs="*", help="only these shapes (default: all)")
    args = parser.parse_args(argv)
    extractor = Extractor.load(**(extractor_options() | {"max_chars": max(args.chars, 100_000)}))
    extractor.extract(ordinary(2_000))  # warm
    base_text = ordinary(args.chars)
    base = min(timed(extractor, base_text)[0] for _ in range(2))
    rows = []
    for name, shape in SHAPES.items():
        if args.shapes and name not in args.shapes:
            continue
        seconds, refused = timed(extractor, build(shape, args.chars))
        rows.append(
            {"shape": name, "seconds": round(seconds, 3), "ratio": round(seconds / base, 2),
             "refused": refused}
        )  # fmt: skip
    worst = max(rows, key=lambda r: r["ratio"])
    report = {
        "chars": args.chars,
        "ordinary_seconds": round(base, 3),
        "shapes": rows,
        "worst": worst,
        "goal": GOAL,
        "met": worst["ratio"] <= GOAL,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"ordinary text, {args.chars:,} characters: {base:.3f} s")
    for r in rows:
        mark = "  refused by the time budget" if r["refused"] else ""
        print(f"  {r['shape']:18} {r['seconds']:7.3f} s  x{r['ratio']:5.2f}{mark}")
    verdict = "met" if report["met"] else "NOT met"
    print(f"worst: {worst['shape']} x{worst['ratio']:.2f} (goal <= {GOAL}: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
