"""How much the Trustline pipeline costs on top of the bare spaCy pipeline it builds on.

    python benchmarks/extract_speed.py [--notes N] [--batch-size B] [--json]

Builds N synthetic call notes (deterministic: random.Random(0)), then times in the same
process (a) `spacy.load(model, exclude=...).pipe(texts)`, the bare pipeline as the
Extractor loads it (without the components config.cfg's `exclude_base` leaves out), and
(b) `Extractor.extract_many(texts)` with the same model, each warmed first, run twice
interleaved, best run kept. Prints notes/s, the ratio full / bare (goal <= 1.5) and the
peak RSS of the process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import time
from collections.abc import Callable, Iterable

import spacy
from thinc.api import Config

from assistant.settings import extractor_options
from nlp import DEFAULT_MODEL, Extractor
from nlp.extractor import CONFIG_PATH

GOAL_RATIO = 1.5
WARM_NOTES = 200

# Synthetic call-note sentences: preferences, complaints, consent, sensitive data, routine
# notes, shorthand and shouting. Written for this benchmark; no real customer data.
SENTENCES = (
    # preferences
    "Cust prefers email over phone.",
    "Please text me instead of calling, I'm at work all day.",
    "Happy to be contacted on WhatsApp.",
    "Don't call before 10am, she works nights.",
    "Best time to reach him is after 6pm on weekdays.",
    "Speaks French, would rather deal with a French-speaking agent.",
    "Prefers to pick up in store rather than home delivery.",
    "Wants parcels left in the locker at the station.",
    "Pays by PayPal, doesn't want to store a card.",
    "Asked if she can pay in instalments next time.",
    "Wears a size M in tops, 32x34 in jeans.",
    "Really into the new winter jackets and trail running shoes.",
    "Interested in eco-friendly packaging and local products.",
    "No letters please, everything by email.",
    "Doesn't mind calls but prefers SMS for delivery updates.",
    # complaints
    "Parcel is late again, third time this month.",
    "Order 88412 arrived damaged, box crushed and the lamp is broken.",
    "Charged twice for the same order, wants the duplicate refunded.",
    "Still waiting on the refund for the return sent three weeks ago.",
    "App crashes every time she tries to check out.",
    "Can't log in to the website since the update.",
    "Agent on the last call was rude and hung up on him.",
    "Waited 45 minutes on hold before anyone answered.",
    "Price went up the day after he ordered, wants the difference back.",
    "Promised 20% discount was not applied at checkout.",
    "Keeps getting marketing emails after unsubscribing, furious about it.",
    "Threatening to go to the ombudsman if this isn't sorted by Friday.",
    "Says she will close her account and tell everyone on Twitter.",
    "Replacement was sent and customer is happy now.",
    "Refund processed today, issue resolved.",
    "Kettle stopped working after two days, wants a replacement.",
    "Wrong size delivered for the second time.",
    "Delivery driver left the parcel in the rain, everything soaked.",
    # consent
    "Please remove her from all marketing.",
    "No more promo emails, but order updates are fine.",
    "Stop the sales calls, he has asked before.",
    "Wants us to delete all his data.",
    "Asked for a copy of the data we hold on her.",
    "Happy to receive offers by email.",
    "Does not want her data shared with partners.",
    "Opted in to personalised recommendations.",
    # sensitive
    "Read out card 4111 1111 1111 1111 to pay, told him not to.",
    "CVV is 123, advised never to share it.",
    "New account number 31926819, sort code 20-00-00.",
    "IBAN GB82 WEST 1234 5698 7654 32 for the refund.",
    "Mentioned she is diabetic so needs the sugar-free range.",
    "Said his password is Zeus4ever, told him to change it.",
    "Is pregnant and asked about the maternity range.",
    "NI number QQ 12 34 56 C given for the account check.",
    # routine, shorthand, shouting
    "Called to check the status of order 77120.",
    "Updated the delivery address on the account.",
    "Sent the tracking link by SMS.",
    "Emailed the invoice as requested.",
    "Customer asked about opening hours over the holidays.",
    "Confirmed the booking for next Tuesday between 9 and 12.",
    "Explained the returns policy, no further action.",
    "Passed to the billing team, ticket raised.",
    "cust rang re order, all ok now thx",
    "CUST VERY ANGRY, ITEM NEVER ARRIVED, WANTS MONEY BACK NOW",
    "spoke w/ cust, pls call back tmrw am re exchange",
    "Customer's dog is ill so she may miss the delivery.",
    "Asked whether the jackets come in XL.",
)


def build_corpus(n: int, seed: int = 0) -> list[str]:
    """`n` notes of 1-5 sentences each; about one in twelve is shouted in capitals."""
    rng = random.Random(seed)
    notes = []
    for _ in range(n):
        parts = rng.sample(SENTENCES, rng.randint(1, 5))
        note = "".join(p + rng.choice((" ", " ", " ", "\n")) for p in parts).rstrip()
        notes.append(note.upper() if rng.random() < 0.08 else note)
    return notes


def timed(run: Callable[[], Iterable[object]]) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in run():
        pass
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the Trustline pipeline against bare spaCy.")
    parser.add_argument("--notes", type=int, default=3000, help="corpus size (default 3000)")
    parser.add_argument("--batch-size", type=int, default=64, help="nlp.pipe batch size")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    model = os.environ.get("TRUSTLINE_SPACY_MODEL") or DEFAULT_MODEL
    texts = build_corpus(args.notes)
    bare = spacy.load(
        model, exclude=list(Config().from_disk(CONFIG_PATH)["pipeline"]["exclude_base"])
    )
    full = Extractor.load(**extractor_options(model))
    bare.max_length = full.nlp.max_length

    def run_bare(items: list[str]) -> Callable[[], Iterable[object]]:
        return lambda: bare.pipe(items, batch_size=args.batch_size)

    def run_full(items: list[str]) -> Callable[[], Iterable[object]]:
        return lambda: full.extract_many(items, batch_size=args.batch_size)

    timed(run_bare(texts[:WARM_NOTES]))
    timed(run_full(texts[:WARM_NOTES]))
    bare_s, full_s = float("inf"), float("inf")
    for _ in range(2):  # interleaved, so drift in machine load hits both alike
        bare_s = min(bare_s, timed(run_bare(texts)))
        full_s = min(full_s, timed(run_full(texts)))

    report = {
        "full_notes_per_s": round(len(texts) / full_s, 1),
        "bare_notes_per_s": round(len(texts) / bare_s, 1),
        "ratio": round(full_s / bare_s, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "goal_ratio": GOAL_RATIO,
        "notes": len(texts),
        "chars": sum(map(len, texts)),
        "batch_size": args.batch_size,
        "model": model,
        "pipeline": full.nlp.pipe_names,
        "full_s": round(full_s, 3),
        "bare_s": round(bare_s, 3),
    }
    if args.json:
        print(json.dumps(report))
        return 0
    verdict = "met" if report["ratio"] <= GOAL_RATIO else "missed"
    print(
        f"{len(texts):,} notes, {report['chars']:,} chars, model {model}, batch {args.batch_size}"
    )
    print(f"bare spaCy pipeline : {report['bare_notes_per_s']:>8,.1f} notes/s  ({bare_s:.2f} s)")
    print(f"full Trustline      : {report['full_notes_per_s']:>8,.1f} notes/s  ({full_s:.2f} s)")
    print(f"ratio full / bare   : {report['ratio']:>8.2f}  (goal <= {GOAL_RATIO}: {verdict})")
    print(f"peak RSS            : {report['peak_rss_mb']:>8,.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
