"""Agreement between two independent labellings of the same texts, per kind, scored the
way ../shared/tools/score_extraction.py matches facts (first labelling as reference).

    python3 tools/agreement.py FIRST.jsonl SECOND.jsonl     # lines {"id", "gold": [...]}

Prints per-kind precision/recall/F1 of the second against the first (F1 is symmetric),
and for sensitive spans how many of either side's spans the other side's spans cover.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "tools"


def main() -> None:
    sys.path.insert(0, str(SHARED))
    import score_extraction as se  # the shared scorer's matching rules

    first = {d["id"]: d for d in map(json.loads, Path(sys.argv[1]).read_text().splitlines())}
    second = [json.loads(line) for line in Path(sys.argv[2]).read_text().splitlines()]
    items, results = [], []
    for s in second:
        f = first[s["id"]]
        items.append({"id": f["id"], "text": f["text"], "gold": f["gold"]})
        results.append({"id": f["id"], "facts": s["gold"], "redacted_text": f["text"]})
    report = se.score(items, results)
    print(f"{len(items)} texts labelled twice")
    for kind in (*se.KINDS, "all"):
        r = report[kind]
        print(f"  {kind:10} P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}")
    print("  complaint attributes on matched pairs:", report["complaint_attr_accuracy"])


if __name__ == "__main__":
    main()
