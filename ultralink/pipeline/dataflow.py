"""Declared Ray Data stages, and the one place that wires them into a pipeline.

A job lists its stages as :class:`RayStage` values: what runs (a function, a callable
instance, or a class whose instances live on an actor pool), how rows are batched, and how
many tasks or actors run at once. What one task or actor asks Ray for is declared once,
next to the code (:func:`declare`), never as a literal at a call site; :func:`remote` does
the same for plain Ray tasks (planning, scans). :func:`stream` turns a job's work items and
stage list into ``from_items → map_batches/flat_map … → iter_rows`` the same way for every
job, so how a job is wired can be read from its stage list alone.

Example::

    @declare(num_cpus=0.25)
    def read_unit(item, *, files): ...        # flat_map: one unit in, its rows out

    rows = stream(units, [
        RayStage(read_unit, kwargs={"files": files}, flat=True),
        RayStage(Translate, kwargs={"pool": pool}, batch_size=16,
                 actors=Actors(2, 2, max_concurrent_calls=8)),
    ])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resources:
    """What one task or actor of a stage reserves on a Ray node."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0

    def ray_options(self) -> dict[str, float]:
        return {"num_cpus": self.num_cpus, **({"num_gpus": self.num_gpus} if self.num_gpus else {})}


def declare(num_cpus: float = 1.0, num_gpus: float = 0.0) -> Callable[[T], T]:
    """Decorator for a stage function or class: the resources each of its tasks/actors
    reserves (read by :class:`RayStage` and :func:`remote`)."""

    def mark(obj: T) -> T:
        obj.resources = Resources(num_cpus, num_gpus)  # type: ignore[attr-defined]
        return obj

    return mark


def resources_of(fn: Any) -> Resources:
    """The declared resources of a function, a class, or an instance of a declared class."""
    found = getattr(fn, "resources", None)
    if not isinstance(found, Resources):
        name = getattr(fn, "__qualname__", type(fn).__qualname__)
        raise TypeError(f"{name} declares no resources (decorate it with @declare)")
    return found


def remote(fn: Callable[..., Any]) -> Any:
    """``ray.remote(fn)`` with ``fn``'s declared resources."""
    import ray

    return ray.remote(**resources_of(fn).ray_options())(fn)


@dataclass(frozen=True, slots=True)
class Actors:
    """An actor pool (Ray Data ``ActorPoolStrategy``): all ``initial`` actors start at once."""

    min_size: int
    max_size: int
    initial: int | None = None
    max_concurrent_calls: int | None = None   # batches one (async) actor runs at once
    max_tasks_in_flight: int | None = None    # batches queued on one actor

    def strategy(self) -> Any:
        from ray.data import ActorPoolStrategy

        return ActorPoolStrategy(min_size=self.min_size, max_size=self.max_size,
                                 initial_size=self.initial,
                                 max_concurrent_calls_per_actor=self.max_concurrent_calls,
                                 max_tasks_in_flight_per_actor=self.max_tasks_in_flight)


@dataclass(frozen=True)
class RayStage:
    """One stage of a job's Ray Data pipeline, declared.

    ``fn`` runs on tasks unless it is a class (then on ``actors``, built with ``kwargs``);
    for a function or instance ``kwargs`` are its keyword arguments. ``flat``: ``flat_map``
    (one row in, a list of rows out) instead of ``map_batches``. ``tasks`` caps how many
    tasks run at once. ``resources``: the stage's declared ones unless given (an LLM stage
    built with an explicit override)."""

    fn: Any
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int | None = 1
    batch_format: str = "default"
    flat: bool = False
    tasks: int | None = None
    actors: Actors | None = None
    resources: Resources | None = None

    @property
    def name(self) -> str:
        return getattr(self.fn, "__qualname__", type(self.fn).__qualname__)

    def apply(self, ds: Any) -> Any:
        """``ds`` with this stage appended."""
        from ray.data import TaskPoolStrategy

        options = (self.resources or resources_of(self.fn)).ray_options()
        is_class = isinstance(self.fn, type)
        if is_class != (self.actors is not None):
            raise ValueError(f"{self.name}: a class runs on an actor pool (actors=...), "
                             "a function or instance on tasks")
        if self.flat:
            return ds.flat_map(self.fn, fn_kwargs=dict(self.kwargs), **options)
        if is_class:
            compute, kwargs = self.actors.strategy(), {"fn_constructor_kwargs": dict(self.kwargs)}
        else:
            compute = TaskPoolStrategy(size=self.tasks) if self.tasks else None
            kwargs = {"fn_kwargs": dict(self.kwargs)} if self.kwargs else {}
        return ds.map_batches(self.fn, batch_size=self.batch_size, batch_format=self.batch_format,
                              compute=compute, **kwargs, **options)


def stream(items: Sequence[Mapping[str, Any]], stages: Sequence[RayStage], *,
           block_bytes: int | None = None,
           in_flight_bytes: int | None = None) -> Iterator[dict[str, Any]]:
    """The rows out of ``stages`` run over ``items`` (one block per item, so work items
    spread over the first stage's workers).

    ``block_bytes``: Ray Data's target block size while this runs (a reader's output as many
    small blocks, not 128 MB ones); ``in_flight_bytes``: the object store the pipeline may
    hold, so a fast reader waits for slow stages and memory stays flat in the input size.
    Both are restored when the rows are consumed or the iterator is closed."""
    import ray

    from ultralink.pipeline.runtime import progress_bars

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress_bars()
    saved = ctx.execution_options.resource_limits, ctx.target_max_block_size
    if block_bytes is not None:
        ctx.target_max_block_size = block_bytes
    if in_flight_bytes is not None:
        ctx.execution_options.resource_limits = saved[0].copy(object_store_memory=in_flight_bytes)
    try:
        ds = ray.data.from_items(list(items), override_num_blocks=max(1, len(items)))
        for stage in stages:
            ds = stage.apply(ds)
        yield from ds.iter_rows()
    finally:
        ctx.execution_options.resource_limits, ctx.target_max_block_size = saved
