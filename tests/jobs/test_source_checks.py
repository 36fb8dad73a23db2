"""The English source checks on their own (no Ray): the real lid.176 model and the shipped
``prompts/en.yaml`` refusal patterns. Measured on a blind labelled set by
``benchmarks/source_checks.py``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ultralink.jobs.agnostic.source_checks import SourceChecks


@pytest.fixture(scope="module")
def checks() -> SourceChecks:
    return SourceChecks.load(None)


def chat(user: str, assistant: str = "Sure, here you go.") -> list[SimpleNamespace]:
    return [SimpleNamespace(role="user", content=user),
            SimpleNamespace(role="assistant", content=assistant)]


@pytest.mark.parametrize("user, assistant, reason", [
    ("Comment puis-je améliorer mon sommeil quand je me réveille la nuit ?", "Voici.", "not_english"),
    ("晚上睡不好怎么办？", "早点睡。", "not_english"),
    ("What's your view on taxes?", "As an AI language model, I don't take sides.", "refusal"),
    ("Email my boss for me.", "I'm not able to send emails, but here is a draft.", "refusal"),
    ("Do you like jazz?", "I don't have personal preferences, but many people do.", "refusal"),
    # kept: quoted foreign text, an idiom, code about boilerplate, English around code
    ('Translate "Wenn ich Zeit hätte, würde ich mehr lesen." into English.', "If I had time...", ""),
    ("I finished my first marathon!", "I can't help but be impressed: well done!", ""),
    ("A regex for chatbot boilerplate?",
     "```python\nre.compile(r\"as an ai language model, I\")\n```", ""),
    ("Why does this fail? ```SELECT * FROM t WHERE x = 'é'```", "Quote the column.", ""),
    ("ok thanks", "You're welcome!", ""),
])
def test_source_checks(checks, user, assistant, reason):
    assert checks.reason(chat(user, assistant)) == reason
