"""Benchmark decontamination: drop records that share an n-gram with an evaluation set.

Evaluation sets (JSONL, TSV with or without a header, Parquet; local or ``s3://``) are read
once on the driver into a sorted array of n-gram hashes (:mod:`.index`); the index goes to
the workers once (``ray.put``); one Ray task per shard streams its records and drops any with
a message sharing an n-gram with a set, reason ``contaminated:<set>`` (the set is the file
name without extensions) (:mod:`.job`). Settings: :class:`DecontaminateConfig`.

``ultralink build`` runs it over every language × subset when ``decontaminate:`` lists sets;
``ultralink decontaminate`` cleans an existing dataset into a new root::

    ultralink decontaminate --dataset out/ --against gsm8k_test.jsonl \\
        --against s3://evals/mgsm_zh.tsv --output out-clean/
"""

from ultralink.jobs.decontaminate.config import (
                                                 CHAR_N,
                                                 REPORT_FILE,
                                                 WORD_N,
                                                 DecontaminateConfig,
)
from ultralink.jobs.decontaminate.index import (
                                                 SNIPPET,
                                                 EvalIndex,
                                                 build_index,
                                                 eval_rows,
                                                 set_name,
)
from ultralink.jobs.decontaminate.job import (
                                                 DecontaminateJob,
                                                 clean_shard,
                                                 decontaminate,
                                                 run_decontaminate,
)

__all__ = ["CHAR_N", "REPORT_FILE", "SNIPPET", "WORD_N", "DecontaminateConfig",
           "DecontaminateJob", "EvalIndex", "build_index", "clean_shard", "decontaminate",
           "eval_rows", "run_decontaminate", "set_name"]
