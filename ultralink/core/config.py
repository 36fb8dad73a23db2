"""Typed job configuration; an unknown or mistyped key is an error that names it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Marks a field that steers a run but not what it writes: ``Field(...,
# json_schema_extra=RUN_CONTROL)``. :func:`identity` leaves it out of the output's identity.
RUN_CONTROL: dict[str, Any] = {"run_control": True}


def is_run_control(field: Any) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("run_control"))


def _exclusions(model: type[BaseModel]) -> dict[str, Any]:
    """The nested ``exclude`` of ``model``'s run-control fields, sub-models included."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        kind = field.annotation
        if is_run_control(field):
            out[name] = True
        elif isinstance(kind, type) and issubclass(kind, BaseModel) and (sub := _exclusions(kind)):
            out[name] = sub
    return out


def identity(cfg: BaseModel) -> dict[str, Any]:
    """The part of a job config that decides what the job writes (the output's hash): every
    field but those marked :data:`RUN_CONTROL`, as JSON values. Re-validated first, so
    defaults get their field types (0 -> 0.0) as a YAML-loaded config does."""
    canonical = type(cfg)(**cfg.model_dump())
    return json.loads(canonical.model_dump_json(exclude=_exclusions(type(cfg)) or None))


class Strict(BaseModel):
    """Base for every config section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ErrorLimits(Strict):
    """When rows failing with errors stop a job (``ultralink.pipeline.error_guard``)."""

    max_error_share: float = Field(0.05, ge=0.0, le=1.0, description="stop the job when more "
                                   "than this share of rows failed with an error")
    min_errors: int = Field(10, ge=1, description="errors needed before the share is checked")
