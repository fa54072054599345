"""Score redaction on a suite of cases: leaks and over-masking.

    .venv/bin/python tools/score_redaction.py tests/data/redaction/adversarial.jsonl
    .venv/bin/python tools/score_redaction.py GOLD.jsonl --show-misses 20 --json

A case is ``{"id", "class", "text", "sensitive": [{"category", "span"}], "keep": [...]}``;
a notes file in the shared scorer's format (``gold`` facts with ``span``) works too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.settings import extractor_options
from nlp import Extractor
from nlp.errors import TrustlineNLPError
from nlp.evaluate import score_redaction


def load_cases(path: Path) -> list[dict[str, object]]:
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        if "sensitive" not in case:  # the shared scorer's notes format
            gold = case.get("gold", [])
            case["sensitive"] = [g for g in gold if g.get("kind") == "sensitive"]
            case.setdefault("keep", [])
        cases.append(case)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("--show-misses", type=int, default=0, metavar="N")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    cases = load_cases(args.suite)
    extractor = Extractor.load(**extractor_options())
    redacted: dict[str, str | None] = {}
    for case in cases:
        try:
            redacted[str(case["id"])] = extractor.extract(str(case["text"])).redacted_text
        except TrustlineNLPError:
            redacted[str(case["id"])] = None
    score = score_redaction(cases, redacted)
    if args.json:
        print(json.dumps(score.as_dict(), indent=2))
    else:
        d = score.as_dict()
        print(f"cases {d['cases']}, sensitive spans {d['spans']}, leaked {d['leaks']}")
        print(
            f"negatives {d['negatives']}, over-masked {d['negatives_over_masked']} "
            f"({d['negative_over_mask_rate']:.1%}); keep strings masked "
            f"{d['keeps_masked']} of {d['keeps']}; refused {d['errors']}"
        )
        for name, counts in d["by_class"].items():
            print(f"  {name:28} {json.dumps(counts)}")
    for miss in score.misses[: args.show_misses]:
        print(json.dumps(miss, ensure_ascii=False), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
