"""LLM hosting: one loaded model per GPU (or TP group), shared by every LLM stage of a job.

Why four modules: each answers one question a reader asks about the hosts.

- :mod:`~ultralink.hosting.options`: how hosts are placed and driven, and how hard a request
  is retried (the typed knobs of the other three).
- :mod:`~ultralink.hosting.admission`: which queued request enters the engine next and how
  many fit (slots and KV tokens, the output-length estimate behind the KV reserve).
- :mod:`~ultralink.hosting.host`: :class:`~ultralink.hosting.host.EngineHost`, the Ray actor
  that holds one engine, gates it and counts its work.
- :mod:`~ultralink.hosting.supervisor`: creates, owns and re-creates a pool's hosts and keeps
  the stages' counters past Ray Data's actor scale-down.
- :mod:`~ultralink.hosting.pool`: :class:`~ultralink.hosting.pool.HostPool`, the picklable
  client that routes a request to a host (rendezvous by dialogue), retries and fails over.

Example (driver)::

    from ultralink.hosting.pool import HostPool

    pool = HostPool.create(engine_config, num_hosts=8, name_prefix="ul")
    rows = stream(items, [read_stage, DialogueStage.stage(pool, concurrency=4)])  # dataflow
    print(format_summary(pool.stats()))
    pool.shutdown()
"""
