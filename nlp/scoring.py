"""`trustline eval`: score extraction results against gold facts, in detail.

A fact matches a gold fact as ``../shared/tools/score_extraction.py`` matches it, so the
per-kind figures are the shared scorer's:

* preference: same field and polarity, and the same value (for ``interest``, the same
  head word, or one's head among the other's words, singular);
* complaint: same category; consent: same action and purpose; sensitive: same category.

Gold facts are taken in order and each takes the first unused predicted fact that
matches. On top of the shared figures this module breaks precision and recall down by
preference field, complaint category, consent action and purpose and sensitive
category, gives complaint attribute accuracy on matched pairs, and a complaint-category
confusion matrix: per text, the complaints left unmatched after category matching are
paired in order of their evidence (gold in its own order), and what remains on either
side is counted against ``none``.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .evaluate import leaked
from .text import plain_singular

KINDS = ("preference", "complaint", "consent", "sensitive")
NONE = "none"
_WORD = re.compile(r"[^\W_]+")
_FR_LEADING = frozenset({"le", "la", "les", "l", "un", "une", "des", "du", "de", "d"})


def head(value: str, lang: str = "en") -> str:
    """An interest's head word, singular: the last word in English, the first in French."""
    words: list[str] = _WORD.findall(value.lower())
    if lang == "fr":
        words = [w for w in words if w not in _FR_LEADING]
        if not words:
            return ""
        first = words[0]
        return first[:-1] if len(first) > 3 and first[-1] in "sx" else first
    return plain_singular(words[-1]) if words else ""


def matches(kind: str, gold: Mapping[str, Any], pred: Mapping[str, Any], lang: str = "en") -> bool:
    """Whether `pred` counts for `gold` (both of `kind`)."""
    if kind == "preference":
        if (gold.get("field"), gold.get("polarity")) != (pred.get("field"), pred.get("polarity")):
            return False
        g, p = str(gold.get("value", "")).lower(), str(pred.get("value", "")).lower()
        if gold.get("field") != "interest":
            return g == p
        hg, hp = head(g, lang), head(p, lang)
        words_g = {head(w, lang) for w in _WORD.findall(g)}
        words_p = {head(w, lang) for w in _WORD.findall(p)}
        return bool(hg) and bool(hp) and (hg == hp or hg in words_p or hp in words_g)
    if kind == "complaint":
        return gold.get("category") == pred.get("category")
    if kind == "consent":
        return (gold.get("action"), gold.get("purpose")) == (
            pred.get("action"),
            pred.get("purpose"),
        )
    if kind == "sensitive":
        return gold.get("category") == pred.get("category")
    return False


def group_of(kind: str, fact: Mapping[str, Any]) -> str:
    """The breakdown a fact is counted under: field, category or action/purpose."""
    if kind == "preference":
        return str(fact.get("field"))
    if kind == "consent":
        return f"{fact.get('action')}/{fact.get('purpose')}"
    return str(fact.get("category"))


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def as_dict(self) -> dict[str, Any]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(p, 3),
            "recall": round(r, 3),
            "f1": round(f, 3),
        }


@dataclass
class Report:
    items: int = 0
    missing: int = 0
    errors: int = 0
    leaks: int = 0
    kinds: dict[str, Counts] = field(default_factory=lambda: {k: Counts() for k in KINDS})
    groups: dict[str, dict[str, Counts]] = field(
        default_factory=lambda: {k: defaultdict(Counts) for k in KINDS}
    )
    attributes: dict[str, Counter[str]] = field(
        default_factory=lambda: {
            a: Counter() for a in ("severity", "repeat", "status", "channel", "polarity")
        }
    )
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def overall(self) -> Counts:
        total = Counts()
        for c in self.kinds.values():
            total.tp, total.fp, total.fn = total.tp + c.tp, total.fp + c.fp, total.fn + c.fn
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "missing": self.missing,
            "errors": self.errors,
            "leaks": self.leaks,
            **{k: c.as_dict() for k, c in self.kinds.items()},
            "all": self.overall().as_dict(),
            "by_group": {
                k: {g: c.as_dict() for g, c in sorted(groups.items())}
                for k, groups in self.groups.items()
            },
            "complaint_attr_accuracy": {
                a: round(c["ok"] / c["n"], 3) if c["n"] else None
                for a, c in self.attributes.items()
                if a != "polarity"
            },
            "complaint_confusion": [
                {"gold": g, "predicted": p, "count": n}
                for (g, p), n in sorted(self.confusion.items())
            ],
            "misses": self.misses,
        }


def _start(fact: Mapping[str, Any]) -> int:
    ev = fact.get("evidence")
    return int(ev.get("start", 0)) if isinstance(ev, Mapping) else 0


def score(items: Sequence[Mapping[str, Any]], results: Iterable[Mapping[str, Any]]) -> Report:
    """Score `results` (contract result objects with `id`) against gold `items`."""
    by_id = {r.get("id"): r for r in results}
    report = Report(items=len(items))
    for item in items:
        res = by_id.get(item["id"])
        if res is None:
            report.missing += 1
            res = {"facts": [], "redacted_text": item["text"]}
        if "error" in res:
            report.errors += 1
        lang = str(item.get("lang", "en"))
        preds = [f for f in res.get("facts", []) if isinstance(f, Mapping)]
        redacted = str(res.get("redacted_text", item["text"]) or "")
        for kind in KINDS:
            gold = [g for g in item.get("gold", []) if g.get("kind") == kind]
            pred = [p for p in preds if p.get("kind") == kind]
            _score_kind(report, item, kind, gold, pred, lang, redacted)
    return report


def _score_kind(
    report: Report,
    item: Mapping[str, Any],
    kind: str,
    gold: list[Mapping[str, Any]],
    pred: list[Mapping[str, Any]],
    lang: str,
    redacted: str,
) -> None:
    counts, groups = report.kinds[kind], report.groups[kind]
    used: set[int] = set()
    unmatched_gold: list[Mapping[str, Any]] = []
    for g in gold:
        j = next(
            (i for i, p in enumerate(pred) if i not in used and matches(kind, g, p, lang)), None
        )
        if j is None:
            counts.fn += 1
            groups[group_of(kind, g)].fn += 1
            unmatched_gold.append(g)
            report.misses.append({"id": item["id"], "missed": dict(g)})
            continue
        used.add(j)
        counts.tp += 1
        groups[group_of(kind, g)].tp += 1
        p = pred[j]
        if kind == "complaint":
            report.confusion[(str(g.get("category")), str(p.get("category")))] += 1
            for a in ("severity", "repeat", "status"):
                report.attributes[a]["n"] += 1
                report.attributes[a]["ok"] += int(p.get(a) == g.get(a))
        if kind == "consent" and g.get("channel"):
            report.attributes["channel"]["n"] += 1
            report.attributes["channel"]["ok"] += int(p.get("channel") == g.get("channel"))
    spurious = [p for i, p in enumerate(pred) if i not in used]
    for p in spurious:
        counts.fp += 1
        groups[group_of(kind, p)].fp += 1
        shown = {k: v for k, v in p.items() if k != "evidence"}
        report.misses.append({"id": item["id"], "spurious": shown})
    if kind == "complaint":
        left = sorted(spurious, key=_start)
        for g, p in zip(unmatched_gold, left, strict=False):
            report.confusion[(str(g.get("category")), str(p.get("category")))] += 1
        for g in unmatched_gold[len(left) :]:
            report.confusion[(str(g.get("category")), NONE)] += 1
        for p in left[len(unmatched_gold) :]:
            report.confusion[(NONE, str(p.get("category")))] += 1
    if kind == "sensitive":
        for g in gold:
            span = g.get("span")
            if span and leaked(str(item["text"]), str(span), redacted):
                report.leaks += 1
                report.misses.append({"id": item["id"], "leaked": span})


def format_report(report: Report) -> str:
    """The report as plain-text tables."""
    d = report.as_dict()
    lines = [
        f"{d['items']} texts, {d['missing']} without a result, {d['errors']} errors, "
        f"{d['leaks']} sensitive spans leaked into redacted_text",
        "",
        _table("kind", [(k, d[k]) for k in (*KINDS, "all")]),
    ]
    titles = {
        "preference": "preference by field",
        "complaint": "complaint by category (a match needs the right category)",
        "consent": "consent by action/purpose",
        "sensitive": "sensitive by category",
    }
    for kind in KINDS:
        rows = list(d["by_group"][kind].items())
        if rows:
            lines += ["", _table(titles[kind], rows)]
    attrs = {a: v for a, v in d["complaint_attr_accuracy"].items() if v is not None}
    if attrs:
        shown = ", ".join(f"{a} {v}" for a, v in attrs.items())
        lines += ["", f"attribute accuracy on matched pairs: {shown}"]
    lines += ["", _confusion(report.confusion)]
    return "\n".join(lines)


def _table(title: str, rows: list[tuple[str, Mapping[str, Any]]]) -> str:
    width = max(len(name) for name, _ in rows) + 2
    out = [title] if title != "kind" else []
    out.append(f"{'':<{width}}{'P':>7}{'R':>7}{'F1':>7}{'tp':>6}{'fp':>6}{'fn':>6}")
    for name, m in rows:
        out.append(
            f"{name:<{width}}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}"
            f"{m['tp']:>6}{m['fp']:>6}{m['fn']:>6}"
        )
    return "\n".join(out)


def _confusion(confusion: Counter[tuple[str, str]]) -> str:
    if not confusion:
        return "complaint category confusion: no complaints in gold or predictions"
    labels = sorted({g for g, _ in confusion} | {p for _, p in confusion} - {NONE})
    labels = [x for x in labels if x != NONE] + [NONE]
    short = {x: x[:8] for x in labels}
    width = max(len(x) for x in labels) + 2
    out = ["complaint category confusion (rows: gold, columns: predicted)"]
    out.append(" " * width + "".join(f"{short[x]:>9}" for x in labels))
    for g in labels:
        cells = "".join(f"{confusion.get((g, p), 0) or '.':>9}" for p in labels)
        out.append(f"{g:<{width}}{cells}")
    return "\n".join(out)
