"""``ultralink build``: the whole dataset from one config — prepare → specific → agnostic → stats.

Per language: ``prepare`` writes segments to ``{work}/segments/{lang}``, ``specific``
turns them into ``{output}/{lang}/chat_specific``, and ``agnostic`` writes
``{output}/{lang}/{chat_agnostic,math,code}`` (English passes through untranslated). Then
``stats.json``, ``figures/`` and the ``README.md`` card at the root, and a root
``_manifest.json`` (config hash, versions, per-stage status and counts). ``{work}`` (segments,
dedup and decontamination state, the judge's verdicts) is ``work`` of the config, by default
``<output>_work`` beside the output, so the dataset root holds only the dataset; an output
built before ``work`` existed keeps using its ``{output}/_work``.

Engines are started once per distinct engine config (``engines.generator`` /
``engines.translator``; equal configs share one ``HostPool``) and serve every stage. A rerun
resumes: a stage whose key (inputs + config + engine) is recorded ``done`` in the root manifest
and whose own ``_manifest.json`` says ``done`` is skipped without touching Ray; any other stage
reruns and its job skips the units it already finished.

Example::

    ultralink build --config jobs/sample.yaml                  # 2 CPU cores, a few minutes
    ray job submit --working-dir . -- python -m ultralink build --config jobs/full.yaml
"""

from ultralink.build.config import (
                                    TABLE1,
                                    BuildConfig,
                                    Engines,
                                    Resources,
                                    Sizes,
                                    Sources,
                                    SubsetSizes,
                                    load_config,
)
from ultralink.build.projection import projection, summary_text
from ultralink.build.run import Build, run_build, stage_key

__all__ = ["TABLE1", "Build", "BuildConfig", "Engines", "Resources", "Sizes", "Sources",
           "SubsetSizes", "load_config", "projection", "run_build", "stage_key", "summary_text"]
