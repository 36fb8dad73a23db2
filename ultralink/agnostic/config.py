"""Typed settings of the judge and translator stage (what ``agnostic.stage`` and the modules
under it read); the job's own settings (input, pruning, work units) extend them in
``jobs/agnostic/config.py::AgnosticConfig``, so one flat YAML section still holds both."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ultralink.core.config import Strict


class TranslationConfig(Strict):
    """The criteria judge's and the translator's settings (all of them change the output)."""

    # -- criteria filter (chat) -------------------------------------------------------------
    judge: bool = Field(True, description="run the six-criteria LLM judge on chat")
    judge_attempts: int = Field(3, ge=1, description="tries for a parseable verdict")
    judge_max_tokens: int = Field(80, gt=0)
    judge_message_chars: int | None = Field(None, gt=0, description="each message is cut to "
                                            "this many characters in the judge prompt; None: "
                                            "never (the judge sees every admitted message)")
    judge_total_chars: int | None = Field(None, gt=0, description="the conversation shown to "
                                          "the judge is cut to this many characters; None: "
                                          "never (max_conversation_tokens bounds it)")
    # -- translator -------------------------------------------------------------------------
    prompt_style: Literal["auto", "completion", "chat"] = Field(
        "auto", description="auto: the model registry's prompt_format (base models get "
        "few-shot 'English: …/<Language>: …' completion prompts)")
    granularity: Literal["auto", "line", "paragraph", "message"] = Field(
        "auto", description="what one translation request holds; auto: 'line' for "
        "completion (base) models, 'message' for chat models")
    principles_in_completion: bool = Field(
        True, description="put the target-language system text and principles at the top of "
        "completion prompts too")
    translate_attempts: int = Field(3, ge=1, description="tries per piece (first greedy, then "
                                    "sampled with a new seed)")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="first attempt")
    retry_temperature: float = Field(0.7, ge=0.0, le=2.0, description="later attempts")
    max_new_tokens: int = Field(2048, gt=0, description="cap on one translation request")
    langid_threshold: float = Field(0.5, ge=0.0, le=1.0, description="fastText probability "
                                    "of the target language a translation must reach")
    langid_min_chars: int = Field(80, ge=0, description="a piece with less prose than this "
                                  "is not language-checked on its own (fastText misreads short "
                                  "lines full of names and numbers); the message still is")
    langid_message_min_chars: int = Field(20, ge=0, description="a whole message with less "
                                          "prose than this is not language-checked")
    message_attempts: int = Field(2, ge=1, description="tries per message when the joined "
                                  "message fails its checks (pieces retried on their own first)")
    ratio_min_chars: int = Field(16, ge=0, description="prose shorter than this is not "
                                 "length-ratio-checked")
    ratio_slack: float = Field(2.5, gt=1.0, description="a translation may be this many times "
                               "shorter or longer than the language's expected length ratio")
    fasttext_model: str | None = Field(None, description="lid.176 path; default: the bundled "
                                       ".ftz")
    translate_system: bool = Field(True, description="translate system turns too")
    seed: int = Field(0, description="the judge's and translator's sampling seeds and the pruning ranking")
