"""The ``specific`` job's configuration; fields marked ``RUN_CONTROL`` steer a run but are
not part of what it writes (``core.config.identity``)."""

from __future__ import annotations

from pydantic import Field

from ultralink.core.config import RUN_CONTROL, ErrorLimits, Strict
from ultralink.llm.registry import EngineConfig, cpu_engine
from ultralink.llm.request_cache import RequestCacheConfig
from ultralink.specific.dialogue import DialogueConfig

JOB = "specific"


class SpecificConfig(Strict):
    """The ``specific`` job: dialogue rules, the engine, and how work is cut and scheduled.

    Example (``--config jobs/specific.yaml``)::

        specific:
          seed: 0
          num_hosts: 1
          dialogue: {stop_first: 0.1, stop_growth: 2.0, answer_max_tokens: 256}
          llm: {engine: llamacpp, model: gemma3-270m, n_threads: 1}
    """

    seed: int = Field(0, description="with the segment id, fixes every random choice")
    max_dialogues: int | None = Field(None, gt=0, description="only the first N segments by "
                                      "id (deterministic)", json_schema_extra=RUN_CONTROL)
    target_dialogues: int | None = Field(None, gt=0, description="finished dialogues wanted: "
                                         "segments are taken in id order, more in each round "
                                         "(sized by the yield so far) until the target is met "
                                         "or the segments (or max_dialogues) run out",
                                         json_schema_extra=RUN_CONTROL)
    target_rounds: int = Field(8, gt=0, description="rounds at most to reach target_dialogues",
                               json_schema_extra=RUN_CONTROL)
    unit_size: int = Field(64, gt=0, description="segments per work unit (output shard)")
    batch_size: int | None = Field(None, gt=0, description="segments per Ray Data batch; "
                                   "default: sized from the hosts' capacity "
                                   "(llm_stage.stage_sizing)")
    num_hosts: int = Field(1, gt=0, description="engine host actors (one model each)")
    stage_actors: int = Field(1, gt=0, description="DialogueStage actors, all started at once "
                              "(cheap: they only hold requests)")
    dialogues_in_flight: int | None = Field(None, gt=0, description="dialogues running at "
                                            "once per stage actor; default: num_hosts for "
                                            "llama.cpp (keeps its one-slot prompt cache on "
                                            "one document), else the stage sizing's rows per "
                                            "actor (2 × the hosts' gates / actors)")
    prompts_dir: str | None = Field(None, description="directory of <lang>.yaml (default: the "
                                    "repository's prompts/)")
    fasttext_model: str | None = Field(None, description="lid.176 path (default: the shipped "
                                       ".ftz)")
    dialogue: DialogueConfig = Field(default_factory=DialogueConfig)
    error_limits: ErrorLimits = Field(default_factory=ErrorLimits, json_schema_extra=RUN_CONTROL)
    request_cache: RequestCacheConfig = Field(default_factory=RequestCacheConfig,
                                              json_schema_extra=RUN_CONTROL)
    llm: EngineConfig = Field(default_factory=cpu_engine)
