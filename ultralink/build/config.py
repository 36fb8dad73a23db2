"""The typed config of ``ultralink build``: languages, inputs, engines per role, sizes and
resources; an unknown or mistyped key is an error that names it."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, field_validator, model_validator

from ultralink.core.config import Strict
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.jobs.decontaminate.config import DecontaminateConfig
from ultralink.jobs.dedup import DedupConfig
from ultralink.jobs.prepare.config import PrepareConfig
from ultralink.jobs.specific import SpecificConfig
from ultralink.llm.registry import EngineConfig, cpu_engine

MANIFEST = "_manifest.json"
SUBSETS = ("chat", "math", "code")
# Paper Table 1: records per language and subset (the projection's targets).
TABLE1 = {
    "en": {"chat_specific": 10_000, "chat_agnostic": 67_000, "math": 395_000, "code": 186_000},
    "other": {"chat_specific": 36_000, "chat_agnostic": 11_000, "math": 32_000, "code": 16_000},
}


class Sources(Strict):
    """Inputs: Wikipedia dumps per language, English SFT sets per agnostic subset."""

    wikipedia: dict[str, list[str]] = Field(default_factory=dict, description="{lang: [dump "
                                            "paths, globs or s3:// URIs]}")
    chat: list[str] = Field(default_factory=list, description="ShareGPT-style chat")
    math: list[str] = Field(default_factory=list, description="MetaMathQA / GSM8K")
    code: list[str] = Field(default_factory=list, description="Magicoder OSS / Evol")


class Engines(Strict):
    """One engine config per role; roles with equal configs share one HostPool."""

    generator: EngineConfig = Field(default_factory=cpu_engine, description="writes the "
                                    "language-specific dialogues")
    translator: EngineConfig | None = Field(None, description="translates agnostic data; "
                                            "default: the generator")
    judge: EngineConfig | None = Field(None, description="criteria filter; must equal the "
                                       "translator (run_agnostic serves both from one pool)")

    @model_validator(mode="after")
    def _judge(self) -> Engines:
        if self.judge is not None and self.judge != self.translator_config():
            raise ValueError("engines.judge must equal engines.translator (one agnostic pool "
                             "serves both); leave it unset")
        return self

    def translator_config(self) -> EngineConfig:
        return self.translator or self.generator


class SubsetSizes(Strict):
    chat: int | None = Field(None, gt=0)
    math: int | None = Field(None, gt=0)
    code: int | None = Field(None, gt=0)


class Sizes(Strict):
    """How much to make; ``None`` = everything the inputs give."""

    max_dialogues: int | dict[str, int] | None = Field(
        None, description="finished language-specific dialogues per language (Table 1): one "
        "number for every language or {lang: N}; segments are drawn in id order until it is "
        "met (specific.target_dialogues)")
    agnostic_limit: SubsetSizes = Field(default_factory=SubsetSizes, description="first N "
                                        "usable English records read per subset")
    prune: SubsetSizes = Field(default_factory=lambda: SubsetSizes(math=32_000, code=16_000),
                               description="records kept per non-English language (Table 1: "
                               "32K math, 16K code; chat unpruned)")


class Resources(Strict):
    num_hosts: int = Field(1, gt=0, description="engine hosts per engine config (one model "
                           "each; GPUs per host = the engine's tensor_parallel_size for vLLM)")
    stage_actors: int = Field(1, gt=0, description="LLM stage actors per stage")


class BuildConfig(Strict):
    """Everything ``ultralink build`` needs; unknown keys are errors naming them."""

    output: str = Field("./out", description="dataset root (local dir or s3://)")
    work: str | None = Field(None, description="where the build's work files go (prepared "
                             "segments, dedup and decontamination state, the judge's verdict "
                             "store), local dir or s3://; default: beside the output, named "
                             "<output>_work (./out → ./out_work, s3://b/ds → s3://b/ds_work), "
                             "so the dataset root holds only the dataset")
    languages: list[str] = Field(default_factory=lambda: ["en", "zh", "ru", "fr", "es"],
                                 description="en is the source language, kept untranslated")
    seed: int = 0
    sources: Sources = Field(default_factory=Sources)
    prepare: PrepareConfig = Field(default_factory=PrepareConfig)
    specific: SpecificConfig = Field(default_factory=SpecificConfig, description="its llm, "
                                     "num_hosts, stage_actors, seed and target_dialogues are set "
                                     "from engines/resources/seed/sizes")
    agnostic: AgnosticConfig = Field(default_factory=AgnosticConfig, description="its seed, "
                                     "limit, prune_size, num_hosts, stage_concurrency and "
                                     "languages are set per subset by the build")
    engines: Engines = Field(default_factory=Engines)
    sizes: Sizes = Field(default_factory=Sizes)
    resources: Resources = Field(default_factory=Resources)
    prompts_dir: str | None = None
    dedup: DedupConfig | None = Field(None, description="near-duplicate removal of segments "
                                      "and of each language's questions; unset = off, {} = "
                                      "the defaults")
    decontaminate: DecontaminateConfig = Field(
        default_factory=DecontaminateConfig, description="evaluation sets no record may copy: "
        "the standard ones found under evals_dir and those listed in against (a bare list is "
        "against); checked on the English sources and again on every output record")

    @field_validator("decontaminate", mode="before")
    @classmethod
    def _against_list(cls, value: Any) -> Any:
        return {"against": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _languages(self) -> BuildConfig:
        from ultralink.core.languages import get_language

        for lang in self.languages:
            get_language(lang)
        return self

    @model_validator(mode="after")
    def _dialogue_sizes(self) -> BuildConfig:
        sizes = self.sizes.max_dialogues
        values = sizes.values() if isinstance(sizes, dict) else [sizes]
        if any(v is not None and v <= 0 for v in values):
            raise ValueError(f"sizes.max_dialogues must be > 0, got {sizes}")
        return self

    # -- per-stage configs ------------------------------------------------------------------
    def dialogues_for(self, language: str | None) -> int | None:
        sizes = self.sizes.max_dialogues
        return sizes.get(language or "") if isinstance(sizes, dict) else sizes

    def specific_config(self, language: str | None = None) -> SpecificConfig:
        return self.specific.model_copy(update={
            "seed": self.seed, "target_dialogues": self.dialogues_for(language),
            "llm": self.engines.generator, "num_hosts": self.resources.num_hosts,
            "stage_actors": self.resources.stage_actors,
            "prompts_dir": self.specific.prompts_dir or self.prompts_dir})

    def work_uri(self) -> str:
        """``work`` as configured, else :func:`default_work` of the output."""
        return self.work or default_work(self.output)

    def agnostic_config(self, subset: str, work: str | None = None) -> AgnosticConfig:
        """The subset's job config; the judge's verdict store defaults to ``{work}/memo``
        (``work``: the build's work location, :meth:`work_uri` unless given)."""
        return self.agnostic.model_copy(update={
            "seed": self.seed, "limit": getattr(self.sizes.agnostic_limit, subset),
            "prune_size": getattr(self.sizes.prune, subset) if subset != "chat" else
            self.sizes.prune.chat,
            "num_hosts": self.resources.num_hosts,
            "stage_concurrency": self.resources.stage_actors,
            "decontaminate": self.decontaminate,
            "languages": [lang for lang in self.languages if lang != "en"] or ["zh"],
            # one verdict store for every language: each English conversation is judged once
            "request_cache": self.agnostic.request_cache.model_copy(update={
                "memo_dir": self.agnostic.request_cache.memo_dir
                or f"{(work or self.work_uri()).rstrip('/')}/memo"})})


def default_work(output: str) -> str:
    """The default work location: a sibling of the output named ``<output>_work``.

    ``./out`` → ``out_work``, ``s3://b/ds/`` → ``s3://b/ds_work``. An output with no parent
    (a bucket's root, ``/``) has no sibling: set ``work`` explicitly.
    """
    from ultralink.core.errors import UsageError

    if output.startswith("s3://"):
        from ultralink.core.fs import normal_s3_uri

        uri = normal_s3_uri(output)
        if uri.count("/") < 3:   # s3://bucket
            raise UsageError(f"{output}: a dataset at a bucket's root has no sibling folder for "
                             "its work files; set work: to an s3:// prefix of its own")
        return uri + "_work"
    path = os.path.normpath(os.path.expanduser(output))
    if os.path.basename(path) in ("", ".", ".."):
        path = os.path.abspath(path)
    if os.path.dirname(path) == path:
        raise UsageError(f"{output}: a dataset at the filesystem root has no sibling folder for "
                         "its work files; set work:")
    return path + "_work"


def load_config(path: str | None, **overrides: Any) -> BuildConfig:
    """Read a YAML job file (``BuildConfig`` keys at the top level); ``overrides`` win.

    ``path`` may also name a bundled config (``sample``, ``full``): its relative input paths
    then point into the bundle, so it runs from any directory of an installed package."""
    from ultralink.core.bundled import bundle_root, config_names, named_config

    values: dict[str, Any] = {}
    if path:
        from ultralink.core.errors import UsageError, load_yaml

        bundled = None if os.path.exists(path) else named_config(path)
        if bundled is None and not os.path.exists(path):
            raise UsageError(f"no config file {path!r} (bundled configs: "
                             f"{', '.join(config_names())})")
        values = load_yaml(str(bundled or path)) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a mapping of BuildConfig keys")
        if bundled is not None:
            _anchor_inputs(values.get("sources") or {}, bundle_root())
    values.update({k: v for k, v in overrides.items() if v is not None})
    return BuildConfig(**values)


def _anchor_inputs(sources: dict[str, Any], root: Any) -> None:
    """Relative local input paths of a bundled config → absolute paths inside the bundle."""
    def anchor(paths: list[str]) -> list[str]:
        return [p if "://" in p or os.path.isabs(p) else str(root / p) for p in paths]

    for key, value in sources.items():
        if isinstance(value, dict):
            sources[key] = {lang: anchor(paths) for lang, paths in value.items()}
        elif isinstance(value, list):
            sources[key] = anchor(value)


# -- the run ------------------------------------------------------------------------------

