"""The three unit-based jobs, each a config, a plan, a reader, its stages and a record
builder on :class:`ultralink.pipeline.runner.UnitJob`: ``prepare`` (Wikipedia → segments),
``specific`` (segments → dialogues) and ``agnostic`` (English SFT data → translations)."""
