"""The ``translation`` section of ``prompts/<lang>.yaml`` and the ``<source>`` block the chat
models see: what the translator and its checks read from the prompt files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ultralink.agnostic.protect import PLACEHOLDER_RE
from ultralink.core.bundled import prompts_dir
from ultralink.core.languages import get_language

PROMPTS_DIR = prompts_dir()

SOURCE_OPEN, SOURCE_CLOSE = "<source>", "</source>"
_LETTER = re.compile(r"[^\W\d_]")


def has_prose(text: str) -> bool:
    """Letters outside placeholders: a piece worth a translation request."""
    return bool(_LETTER.search(PLACEHOLDER_RE.sub("", text)))


def source_block(body: str) -> str:
    """The text to translate as the chat models see it: delimited, never a bare turn."""
    return f"{SOURCE_OPEN}\n{body}\n{SOURCE_CLOSE}"


def unwrap_source(content: str) -> str:
    """The inverse of :func:`source_block` (for tests and fakes reading requests)."""
    if content.startswith(SOURCE_OPEN + "\n") and content.endswith("\n" + SOURCE_CLOSE):
        return content[len(SOURCE_OPEN) + 1:-len(SOURCE_CLOSE) - 1]


@dataclass(frozen=True, slots=True)
class TranslationPrompt:
    """The ``translation`` section of ``prompts/<lang>.yaml``."""

    language: str
    label: str            # the language's English name, for completion prompts
    version: str
    system: str
    instruction: str
    principles: tuple[str, ...]
    examples: tuple[tuple[str, str], ...]
    preamble_patterns: tuple[str, ...] = ()
    refusal_patterns: tuple[str, ...] = ()    # the file's quality.refusal_patterns

    @classmethod
    def load(cls, language: str, prompts_dir: str | Path | None = None) -> TranslationPrompt:
        path = Path(prompts_dir or PROMPTS_DIR) / f"{language}.yaml"
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
        t = data["translation"]
        return cls(language=language, label=get_language(language).name,
                   version=str(data["version"]), system=t["system"].strip(),
                   instruction=t["instruction"].strip(),
                   principles=tuple(p.strip() for p in t["principles"]),
                   examples=tuple((e["source"], e["target"]) for e in t["examples"]),
                   preamble_patterns=tuple(t.get("preamble_patterns") or ()),
                   refusal_patterns=tuple((data.get("quality") or {}).get("refusal_patterns")
                                          or ()))

    def preamble(self) -> str:
        lines = [self.system, self.instruction]
        lines += [f"{i}. {p}" for i, p in enumerate(self.principles, 1)]
        return "\n".join(lines)

    def line_examples(self) -> list[tuple[str, str]]:
        """The examples as aligned line pairs (line mode), placeholder-only lines left out."""
        pairs: list[tuple[str, str]] = []
        for src, tgt in self.examples:
            s = [x.strip() for x in src.splitlines() if x.strip()]
            t = [x.strip() for x in tgt.splitlines() if x.strip()]
            if len(s) != len(t):
                pairs.append((" ".join(s), " ".join(t)))
                continue
            pairs += [(a, b) for a, b in zip(s, t) if has_prose(a)]
        return pairs

