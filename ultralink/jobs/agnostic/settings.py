"""What an agnostic run is, fixed before anything is read (language, subset, config, engine,
prompt style and the prompt files' versions): the output's identity comes from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ultralink.core.languages import get_language
from ultralink.jobs.agnostic.config import OUTPUT_SUBSET, AgnosticConfig


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What a run is, fixed before anything is read: the job's identity comes from it."""

    language: str
    subset: str
    cfg: AgnosticConfig
    engine: Any                 # llm.registry.EngineConfig
    model: str                  # the registry's name of the engine's model
    style: str                  # prompt style: completion | chat
    granularity: str
    prompt_version: str
    prompts_dir: str | None
    checks_version: str = ""    # the prompt file whose patterns the source checks use

    @property
    def translate(self) -> bool:
        return self.language != "en"

    @classmethod
    def resolve(cls, language: str, subset: str, cfg: AgnosticConfig, engine: Any,
                prompts_dir: str | None) -> RunSettings:
        """Check the language and subset; resolve the prompt style, granularity and the
        prompt files' versions (all part of the output's identity)."""
        from ultralink.llm.registry import resolve_model

        get_language(language)
        if subset not in OUTPUT_SUBSET:
            raise ValueError(f"unknown subset {subset!r}; expected one of {sorted(OUTPUT_SUBSET)}")
        spec = resolve_model(engine.model, engine.models_yaml)
        style = spec.prompt_format if cfg.prompt_style == "auto" else cfg.prompt_style
        granularity = cfg.granularity if cfg.granularity != "auto" else (
            "line" if style == "completion" else "message")
        version = checks = ""
        if cfg.source_checks:   # the English file's refusal patterns decide source drops
            from ultralink.agnostic.translation_prompt import TranslationPrompt

            checks = f"en.yaml@{TranslationPrompt.load('en', prompts_dir).version}"
        if language != "en":
            from ultralink.agnostic.translation_prompt import TranslationPrompt

            version = f"{language}.yaml@{TranslationPrompt.load(language, prompts_dir).version}"
            if subset == "chat" and cfg.judge:
                from ultralink.agnostic.criteria_filter import CriteriaPrompt

                version += f";criteria_filter.yaml@{CriteriaPrompt.load(prompts_dir).version}"
        return cls(language, subset, cfg, engine, spec.name, style, granularity, version,
                   prompts_dir, checks)

    def identity(self) -> dict[str, Any]:
        """The job config hashed into the manifest."""
        engine = self.engine
        return {"language": self.language, "subset": self.subset,
                "agnostic": self.cfg.identity(),
                "engine": ({"engine": engine.engine, "model": engine.model}
                           if self.translate else None),
                "style": self.style, "granularity": self.granularity,
                "prompt_version": self.prompt_version,
                **({"source_checks": self.checks_version} if self.checks_version else {})}

    def engine_report(self) -> dict[str, Any] | None:
        if not self.translate:
            return None
        return {"engine": self.engine.engine, "model": self.engine.model,
                "prompt_style": self.style, "granularity": self.granularity}
