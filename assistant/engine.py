"""One Extractor per process, built on first use and shared by requests."""

from __future__ import annotations

import threading

from flask import Flask, current_app

from nlp import Extractor

from .policy import Policy, load_policy

_lock = threading.Lock()


def init_app(app: Flask) -> None:
    app.extensions["trustline.extractor"] = None


def get_extractor() -> Extractor:
    """The app's extractor, loaded once (spaCy pipelines are safe to share for reading)."""
    ext = current_app.extensions
    extractor: Extractor | None = ext.get("trustline.extractor")
    if extractor is None:
        with _lock:
            extractor = ext.get("trustline.extractor")
            if extractor is None:
                extractor = Extractor.load(
                    current_app.config["TRUSTLINE_SPACY_MODEL"],
                    max_chars=current_app.config["TRUSTLINE_MAX_TEXT_CHARS"],
                    time_budget_ms=int(current_app.config["TRUSTLINE_TEXT_TIME_BUDGET_MS"]),
                )
                ext["trustline.extractor"] = extractor
    return extractor


def get_policy() -> Policy:
    """The app's policy (TRUSTLINE_POLICY or the shipped default), loaded once."""
    ext = current_app.extensions
    policy: Policy | None = ext.get("trustline.policy")
    if policy is None:
        policy = ext["trustline.policy"] = load_policy(current_app.config.get("TRUSTLINE_POLICY"))
    return policy


def preload(app: Flask) -> Extractor:
    """Load the extractor now (at start-up), so a missing model fails fast."""
    with app.app_context():
        return get_extractor()
