"""The dataset card: a Hugging Face style ``README.md`` at the dataset root.

YAML front matter (``configs``: ``all``, the default, then one per language, then one per
language × subset; languages, licence, task, size category) and a body with the paper's tables
computed from this build, the Figure 13 plot, loading recipes (pyarrow, pandas, 🤗 datasets,
DuckDB, Ray; local and S3), the schema and the citation.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from ultralink.core.fs import resolve, write_atomic
from ultralink.dataset.stats import FIGURE_FILE, STATS_FILE, format_table1, format_table2

CARD_FILE = "README.md"

BIBTEX = """@article{wang2024ultralink,
  title   = {UltraLink: An Open-Source Knowledge-Enhanced Multilingual Supervised Fine-tuning Dataset},
  author  = {Wang, Haoyu and Wang, Shuo and Yan, Yukun and Wang, Xujia and Yang, Zhiyu and
             Xu, Yuzhuang and Liu, Zhenghao and Yang, Liner and Ding, Ning and Han, Xu and
             Liu, Zhiyuan and Sun, Maosong},
  journal = {arXiv preprint arXiv:2402.04588},
  year    = {2024},
  url     = {https://arxiv.org/abs/2402.04588}
}"""

LICENSE_NOTE = (
    "Mixed. The language-specific chat subset (`chat_specific`) is generated from Wikipedia "
    "articles, whose text is licensed CC BY-SA 4.0; the derived dialogues inherit CC BY-SA 4.0 "
    "(attribution: the Wikipedia article in each record's `source.url`/`source.title`). The "
    "language-agnostic subsets (`chat_agnostic`, `math`, `code`) are filtered and translated "
    "from ShareGPT, MetaMathQA and Magicoder (OSS-Instruct / Evol-Instruct) data and keep the "
    "licences and terms of those source datasets: check each source's licence before use "
    "(`source.dataset` names the source of every record). Generated text may also be subject to "
    "the terms of the model that produced it.")

SUBSET_TEXT = {
    "chat_specific": "multi-turn dialogues grounded in a Wikipedia passage of the language "
                     "(language-specific knowledge); the first question carries the passage in a "
                     "`<document>…</document>` block",
    "chat_agnostic": "ShareGPT conversations kept by the multi-criteria filter (no culture-bound "
                     "content) and translated",
    "math": "MetaMathQA problems translated (pruned per non-English language)",
    "code": "Magicoder problems translated, code kept verbatim (pruned per non-English language)",
}

SIZE_BINS = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
             (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))

_SECRET = re.compile(r"(key|secret|token|password|credential)", re.IGNORECASE)


def size_category(n: int) -> str:
    for bound, name in SIZE_BINS:
        if n < bound:
            return name
    return "n>100M"


ALL_CONFIG = "all"


def config_name(lang: str, subset: str) -> str:
    return f"{lang}_{subset}"


def subset_configs(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """One config per language × subset present, in dataset order."""
    return [{"config_name": config_name(lang, s), "data_files": f"{lang}/{s}/*.parquet"}
            for lang, per in stats["table2"]["by_language_subset"].items() for s in per]


def front_matter(stats: dict[str, Any], pretty_name: str = "UltraLink") -> dict[str, Any]:
    """The card's YAML metadata as a dict (what the Hub reads): ``all`` (every language and
    subset, the default config), one per language (``en``: every subset of en), then one per
    language × subset. Each names its subsets' folders, never a glob over the root."""
    pairs = subset_configs(stats)
    langs: dict[str, list[str]] = {}
    for c in pairs:
        langs.setdefault(c["config_name"].split("_", 1)[0], []).append(c["data_files"])
    configs: list[dict[str, Any]] = []
    if pairs:
        configs.append({"config_name": ALL_CONFIG, "default": True,
                        "data_files": [c["data_files"] for c in pairs]})
    configs += [{"config_name": lang, "data_files": files} for lang, files in langs.items()]
    configs += pairs
    return {
        "pretty_name": pretty_name,
        "language": list(stats["languages"]),
        "multilinguality": "multilingual" if len(stats["languages"]) > 1 else "monolingual",
        "license": "other",
        "license_name": "cc-by-sa-4.0-and-source-licences",
        "task_categories": ["text-generation"],
        "tags": ["sft", "instruction-tuning", "multilingual", "conversational", "ultralink"],
        "size_categories": [size_category(stats["table1"]["UltraLink"]["total"])],
        "configs": configs,
    }


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<redacted>" if _SECRET.search(str(k)) and v else _redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _intro(stats: dict[str, Any], langs: str, where: str, subsets: str) -> str:
    """The title, what UltraLink is, and this build's size."""
    t2 = stats["table2"]["overall"]
    return f"""# UltraLink (built with UltraLink on Ray)

A multilingual supervised fine-tuning (SFT) dataset in the shape of
[UltraLink](https://arxiv.org/abs/2402.04588): for every language, chat data grounded in that
language's Wikipedia (language-specific knowledge) plus chat, math and code data translated from
English sources (language-agnostic skills, pruned so non-English copies stay small).

This build: **{stats['table1']['UltraLink']['total']:,} dialogues**, {t2['turns']:,} turns, languages
{langs}{where}. Subsets:

{subsets}

"""


def _method() -> str:
    """How the data was made (the paper's pipeline, as this project runs it)."""
    return """## How it was made

1. **Knowledge preparation** — Wikipedia dumps are cleaned, language-checked (fastText `lid.176`),
   Chinese converted to simplified (OpenCC `t2s`), documents of 1K–10K tokens kept and cut into
   1K–2K-token segments at sentence boundaries (tiktoken `cl100k_base`).
2. **Dialogue generation** — an LLM writes an initial question and an answer about each segment,
   then in-depth or expansive follow-ups (a fair coin) until a stop probability that starts at 0.1
   and doubles each turn ends the dialogue. Every message is validated (language, leakage, echo,
   question form, length) and retried.
3. **Language-agnostic data** — ShareGPT conversations pass a heuristic prefilter and a
   multi-criteria LLM filter that drops culture-bound content; they, MetaMathQA and Magicoder are
   translated message by message with code, math and LaTeX protected and restored.
4. **Pruning** — per non-English language only a seeded sample of math (32K in the paper) and
   code (16K) examples is kept; English sets stay whole.
5. **Output** — validated records in one conversation schema, sharded Parquet per language ×
   subset, written atomically with a manifest so reruns resume; then these statistics, this card
   and JSONL exports (`ultralink export`).

"""


def _statistics(stats: dict[str, Any]) -> str:
    """Tables 1-2 and the Figure 13 chart."""
    return f"""## Statistics

Table 1: dialogues per language and subset.

{format_table1(stats, markdown=True)}

Table 2: dialogues, turns (user → assistant pairs) and average tokens per turn (tiktoken
`{stats.get('encoding', 'cl100k_base')}`; a question's length does not include its `<document>`
block). For reference, the paper reports 1032K dialogues, 1623K turns and 87.86 / 290.35 / 378.21
average question / answer / turn tokens.

{format_table2(stats, markdown=True, reference=False)}

Average question and answer tokens per language (Figure 13 of the paper):

![Average question and answer tokens per language]({FIGURE_FILE})

All numbers are in [`{STATS_FILE}`]({STATS_FILE}).

"""


def _layout(configs: str, first_lang: str) -> str:
    """The folder layout and the configs."""
    return f"""## Layout

```
{{lang}}/{{subset}}/part-*.parquet    one file per finished work unit
{{lang}}/{{subset}}/_manifest.json    job, config hash, versions, units (not data)
{{lang}}/{{subset}}/_report.json      the job's counts (not data)
{STATS_FILE}  {FIGURE_FILE}  README.md  _manifest.json  _decontamination.json
```

The build keeps its intermediate files outside this folder, so every `*.parquet` under it is
a record shard in the schema below.

Configs: `{ALL_CONFIG}` (every language and subset; the default), one per language
(`{first_lang}`: every subset of {first_lang}), and one per language × subset: {configs}.
Files whose names start with `_` are bookkeeping; every reader below skips them.

"""


def _loading(local_root: str, first_dir: str, first: dict[str, str], bucket_path: str,
             first_lang: str) -> str:
    """How to read the dataset: pyarrow, pandas, datasets, DuckDB, Ray, S3."""
    return f"""## Loading

With pyarrow or pandas (local folder):

```python
import pyarrow.dataset as ds
import pandas as pd

table = ds.dataset("{local_root}/{first_dir}", format="parquet").to_table()
df = pd.read_parquet("{local_root}/{first_dir}")           # one language × subset
everything = ds.dataset("{local_root}", format="parquet", exclude_invalid_files=True)
zh = everything.to_table(filter=ds.field("language") == "zh")
```

With 🤗 `datasets`:

```python
from datasets import load_dataset

everything = load_dataset("{local_root}", split="train")           # config `{ALL_CONFIG}`, the default
one_language = load_dataset("{local_root}", "{first_lang}", split="train")  # every subset of {first_lang}
one_subset = load_dataset("{local_root}", "{first['config_name']}", split="train")
local = load_dataset("parquet", data_files="{local_root}/{first['data_files']}", split="train")
all_files = load_dataset("parquet", data_files="{local_root}/**/*.parquet", split="train")
# from the Hub, once this folder is uploaded as a dataset repo:
hub = load_dataset("<org>/<name>", "{first['config_name']}", split="train")
# from S3 (needs s3fs; endpoint_url only for S3-compatible stores):
s3 = load_dataset("parquet", data_files="s3://{bucket_path}/{first['data_files']}", split="train",
                  storage_options={{"client_kwargs": {{"endpoint_url": "https://s3.example.com"}}}})
```

With DuckDB or Ray Data:

```python
import duckdb
import ray

duckdb.sql("select language, subset, count(*) from '{local_root}/**/*.parquet' group by all")
records = ray.data.read_parquet("{local_root}")
```

From S3 without `datasets` (credentials from the usual AWS chain):

```python
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pandas as pd

s3 = pafs.S3FileSystem(region="us-east-1")  # endpoint_override="host:port" for S3-compatible stores
table = ds.dataset("{bucket_path}/{first_dir}", format="parquet", filesystem=s3).to_table()
df = pd.read_parquet("s3://{bucket_path}/{first_dir}")      # via s3fs
```

JSONL in the UltraLink release format (`{{"id": "zh_chat_specific_0", "data": [q, a, ...]}}`),
ShareGPT or OpenAI chat format: `ultralink export {local_root} --format ultralink|sharegpt|openai --dest DIR`.

"""


def _schema() -> str:
    """The conversation schema and the licence."""
    return f"""## Schema

| field | type | meaning |
|---|---|---|
| `id` | string | stable record id, `{{lang}}_{{subset}}_{{hash}}`: same input, same id |
| `language` | string | ISO 639-1 code |
| `subset` | string | `chat_specific`, `chat_agnostic`, `math` or `code` |
| `messages` | list<struct<role, content>> | optional leading `system`, then alternating `user` / `assistant` |
| `source` | struct | `dataset`, `id` (original / English original), `title`, `url`, `doc_id`, `segment_index`, `schema`, `file` |
| `meta` | struct | `question_kinds` per turn (`initial` / `in_depth` / `expansive`), `question_tokens`, `answer_tokens`, `retries`, `model`, `prompt_version`, `seed`, `criteria` verdicts, `translated_from`, `tokens_generated` |

## Licence

{LICENSE_NOTE}
"""


def render_card(output_uri: str, stats: dict[str, Any], config: dict[str, Any] | None = None,
                decontamination: dict[str, Any] | None = None) -> str:
    """The card's text (front matter + Markdown body); ``decontamination``: the
    ``_decontamination.json`` report, stated in its own section when given."""
    meta = front_matter(stats)
    pairs = subset_configs(stats)
    first = pairs[0] if pairs else {"config_name": "zh_chat_specific",
                                    "data_files": "zh/chat_specific/*.parquet"}
    first_dir = first["data_files"].rsplit("/", 1)[0]
    root = output_uri.rstrip("/")
    s3 = root.startswith("s3://")
    name = root.rsplit("/", 1)[-1] or "ultralink"
    bucket_path = root[len("s3://"):] if s3 else f"my-bucket/{name}"
    local_root = f"path/to/{name}"      # where a reader keeps their copy, not our build path
    where = f", at `{root}`" if s3 else ""
    subsets = "\n".join(f"- `{s}`: {SUBSET_TEXT[s]}" for s in stats["subsets"])
    langs = ", ".join(f"`{lang}`" for lang in stats["languages"])
    configs = ", ".join(f"`{c['config_name']}`" for c in pairs)
    first_lang = first["config_name"].split("_", 1)[0]

    body = (_intro(stats, langs, where, subsets)
            + _method()
            + _statistics(stats)
            + _layout(configs, first_lang)
            + _loading(local_root, first_dir, first, bucket_path, first_lang)
            + _schema())
    if decontamination:
        body += decontamination_section(decontamination)
    if config:
        body += ("\n## Build configuration\n\n```yaml\n"
                 + yaml.safe_dump(_redact(config), sort_keys=True, allow_unicode=True).rstrip()
                 + "\n```\n")
    body += f"""
## Citation

The method and the original dataset:

```bibtex
{BIBTEX}
```
"""
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"---\n{head}---\n\n{body}"


def decontamination_section(report: dict[str, Any]) -> str:
    """Which evaluation sets were checked, how many records each removed, and, plainly,
    which standard sets the data was *not* checked against."""
    missing = report.get("not_checked") or []
    unchecked = "".join(f"- `{m['name']}` ({m['why']}){': ' + m['what'] if m.get('what') else ''}\n"
                        for m in missing)
    if unchecked:
        unchecked = ("\nThe data was **not** checked against these standard evaluation sets "
                     "(not available to the build); a model trained on it may have seen their "
                     f"items:\n\n{unchecked}")
    if not report["sets"]:
        return ("\n## Decontamination\n\nNo evaluation set was available to the build: the "
                "records were **not** checked for copies of evaluation items.\n" + unchecked)
    sets = "\n".join(f"| `{s['name']}` | {s['rows']:,} | {report['removed_by_set'].get(s['name'], 0):,} |"
                     for s in report["sets"])
    return (f"\n## Decontamination\n\nEvery record was checked against these evaluation sets, "
            f"and only these: a record was removed when a message shares a "
            f"{report['word_ngram']}-word n-gram with a set's row "
            f"({report['char_ngram']} characters for Chinese, Japanese, Korean and Thai text), "
            f"holds most of the word 3-grams of one of its texts, or states a math problem's "
            f"numbers and answers it (which survives translation); every other record made "
            f"from the same English original went with it, in every language. "
            + ("The English sources were checked the same way before any was translated. "
               if report.get("at_source") else "")
            + f"{report['removed']:,} of {report['checked']:,} records went "
            f"(ids, sets, how and matched texts: `_decontamination.json`).\n\n"
            f"| set | rows | records removed |\n|---|---|---|\n{sets}\n"
            + _removed_by_place(report.get("removed_by_place") or {}) + unchecked)


def _removed_by_place(by_place: dict[str, dict[str, dict[str, int]]]) -> str:
    """Per language and subset and set: records dropped from the English sources before
    translation (net ``source``) and from the output after, by net."""
    rows = []
    for place, sets in sorted(by_place.items()):
        for name, hows in sorted(sets.items()):
            after = ", ".join(f"{how} {n}" for how, n in sorted(hows.items()) if how != "source")
            rows.append(f"| `{place}` | `{name}` | {hows.get('source', 0):,} | {after or '0'} |")
    if not rows:
        return ""
    return ("\nRemoved per language and subset (before translation: English source records "
            "dropped by the scan, the same ones in every language; after: output records, "
            "by the net that caught them):\n\n| data | set | before translation | after |\n"
            "|---|---|---|---|\n" + "\n".join(rows) + "\n")


def write_card(output_uri: str, stats: dict[str, Any], config: dict[str, Any] | None = None) -> str:
    """Write ``README.md`` at the dataset root (stating ``_decontamination.json`` when there);
    returns its text."""
    import json

    from ultralink.core.fs import exists, read_bytes

    root = resolve(output_uri)
    decon = None
    if exists(root.join("_decontamination.json")):
        decon = json.loads(read_bytes(root.join("_decontamination.json")))
    text = render_card(output_uri, stats, config, decon)
    write_atomic(root.join(CARD_FILE), text.encode("utf-8"))
    return text
