"""Pure post-processing of extracted facts: conventions that span components."""

from __future__ import annotations

from dataclasses import replace

from .facts import Evidence, Fact

KIND_ORDER = {"sensitive": 0, "complaint": 1, "consent": 2, "preference": 3}


def overlaps(a: Evidence, b: Evidence) -> bool:
    return a.start < b.end and b.start < a.end


def resolve(text: str, facts: list[Fact]) -> list[Fact]:
    """Apply cross-component conventions and return facts in text order.

    - A marketing opt-out or opt-in with a channel is a consent, not a channel
      preference of the same clause (extraction-schema, annotation conventions), unless
      the consent is the less confident reading (the trained classifier's, against the
      rules' preference): then the preference stands and the consent goes.
    - Duplicate facts (same kind and keys) keep the first.
    - Evidence text is re-read from the original text (the pipeline may have run on a
      case-folded copy of the same length).
    """
    marketing = [
        f
        for f in facts
        if f.kind == "consent" and f.get("purpose") == "marketing" and f.get("channel")
    ]
    prefs = [f for f in facts if f.kind == "preference" and f.get("field") == "contact_channel"]

    def same_words(m: Fact, p: Fact) -> bool:
        return m.get("channel") == p.get("value") and overlaps(m.evidence, p.evidence)

    weaker = {
        id(m)
        for m in marketing
        if any(same_words(m, p) and p.confidence > m.confidence for p in prefs)
    }
    marketing = [m for m in marketing if id(m) not in weaker]
    out: list[Fact] = []
    seen: set[tuple[object, ...]] = set()
    for f in facts:
        if id(f) in weaker:
            continue
        if (
            f.kind == "preference"
            and f.get("field") == "contact_channel"
            and any(same_words(m, f) for m in marketing)
        ):
            continue
        key: tuple[object, ...] = (
            f.kind,
            *sorted((k, str(v)) for k, v in f.attrs.items() if k != "detail"),
        )
        if f.kind == "sensitive":  # every masked span counts, even of one category
            key = (*key, f.evidence.start)
        if key in seen:
            continue
        seen.add(key)
        ev = f.evidence
        out.append(replace(f, evidence=Evidence(ev.start, ev.end, text[ev.start : ev.end])))
    out.sort(key=lambda f: (f.evidence.start, KIND_ORDER[f.kind]))
    return out
