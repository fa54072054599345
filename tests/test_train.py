"""`trustline train` rebuilds the shipped complaint classifier from the labelled data."""

from __future__ import annotations

from pathlib import Path

import spacy

from nlp.train import COMPLAINT_LABEL, LABELS, read_examples, train, training_files


def test_labelled_data_is_well_formed() -> None:
    data = read_examples(training_files("en"))
    assert len(data) > 2000
    for item in data:
        assert item.text.strip()
        assert set(item.cats) == set(LABELS)
        has_category = any(item.cats[c] for c in LABELS if c != COMPLAINT_LABEL)
        assert bool(item.cats[COMPLAINT_LABEL]) == has_category, item.source


def test_training_saves_a_model_that_tells_complaints_apart(tmp_path: Path) -> None:
    lines: list[str] = []
    report = train("en", epochs=3, output=tmp_path / "model", log=lines.append)
    assert report["dev"]["f1"] > 0.7
    nlp = spacy.load(tmp_path / "model")
    bad = nlp("my parcel never arrived and nobody answers the phone, disgraceful")
    fine = nlp("thanks so much, lovely weekend at the beach with the kids")
    assert bad.cats[COMPLAINT_LABEL] > fine.cats[COMPLAINT_LABEL]
    assert any("held-out" in line for line in lines)
