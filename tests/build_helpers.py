"""A deterministic fake engine for ``ultralink build`` tests: one engine serves every role.

- dialogue requests (request id ``<dialogue id>:<turn>:<role>:<attempt>``, dialogue ids start
  with the language) get :class:`tests.specific.specific_fakes.DialogueFake`'s valid
  questions/answers in that language;
- the criteria judge (completion prompt ending inside ``Verdict: {…``) always answers "no";
- translation requests (``English: …`` / ``<Language>:``) get filler prose in the target
  language of the expected length, keeping placeholders and numbers (as the validators ask).

Importable by Ray workers (it lives in ``tests/``, a package on the test PYTHONPATH).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from tests.fakes import translation_filler
from tests.specific.specific_fakes import DialogueFake
from ultralink.llm.types import ChatRequest, Completion
from ultralink.core.records import conversation_schema

ROOT = Path(__file__).resolve().parent.parent
SUBSETS = ("chat_specific", "chat_agnostic", "math", "code")
_PLACEHOLDER = re.compile(r"⟦P\d+⟧")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_DIALOGUE = re.compile(r"^([a-z]{2})_[^:]*:\d+:(question|answer):\d+$")
FILLER = {
    "French": ("le petit chat regarde la maison blanche pendant que les enfants jouent dans le "
               "jardin ", 1.2),
    "Spanish": ("el gato pequeño mira la casa blanca mientras los niños juegan en el jardín ", 1.15),
    "Russian": ("маленький кот смотрит на белый дом пока дети играют в саду ", 1.1),
    "Chinese": ("小猫看着白色的房子孩子们在花园里玩耍", 0.33),
}


class BuildFake(DialogueFake):
    """Dialogues, judge verdicts and translations, deterministically; counts calls."""

    async def generate(self, request: ChatRequest) -> Completion:
        m = _DIALOGUE.match(request.request_id or "")
        if m:
            self.script["language"] = m.group(1)
            return await super().generate(request)
        self.calls += 1
        if self.script.get("calls_dir"):
            with open(Path(self.script["calls_dir"]) / f"{os.getpid()}.calls", "a") as f:
                f.write((request.request_id or request.affinity or "-") + "\n")
        prompt = request.prompt or "\n".join(m.content for m in request.messages or [])
        if "Verdict: {" in prompt.rsplit("\n", 1)[-1]:
            text = "no"
        else:
            body = prompt.rsplit("English: ", 1)[1].rsplit("\n", 1)[0]
            label = prompt.rsplit("\n", 1)[1].rstrip(":").strip()
            extra = [*_PLACEHOLDER.findall(body), *_NUMBER.findall(_PLACEHOLDER.sub(" ", body))]
            text = " " + translation_filler(body, label, FILLER[label][1], extra)
        await asyncio.sleep(0)
        return Completion(text=text, finish_reason="stop", prompt_tokens=len(prompt) // 4,
                          completion_tokens=max(1, len(text) // 4), model=self.model_name)


def read_calls(calls_dir: Any) -> list[str]:
    out: list[str] = []
    for path in sorted(Path(calls_dir).glob("*.calls")):
        out += path.read_text().splitlines()
    return out


class SlowBuildFake(BuildFake):
    """:class:`BuildFake` that also sleeps ``latency_s`` on judge/translation calls, so a test
    can stop a build while a stage is still in flight (the outputs stay the same)."""

    async def generate(self, request: ChatRequest) -> Completion:
        if not _DIALOGUE.match(request.request_id or "") and self.script.get("latency_s"):
            await asyncio.sleep(float(self.script["latency_s"]))
        return await super().generate(request)


def session_pids(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid`` (a build started with
    ``start_new_session=True`` has its driver's pid as session id)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != sid:
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            pids.append(int(entry.name))
    return pids


def kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL a job started with ``start_new_session=True``, then wait until nothing of its
    session is left: its Ray workers may outlive the group for a moment and finish (mark) a
    unit meanwhile; kill those too, they are ours."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)
    deadline = time.time() + 60
    while (left := session_pids(proc.pid)) and time.time() < deadline:
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    assert not session_pids(proc.pid), "the killed job left processes behind"


def sample_values(languages: list[str] | None = None) -> dict[str, Any]:
    """``jobs/sample.yaml`` with absolute input paths, optionally cut to some languages."""
    values = yaml.safe_load((ROOT / "jobs" / "sample.yaml").read_text())
    src = values["sources"]
    langs = languages or list(src["wikipedia"])
    src["wikipedia"] = {lang: [str(ROOT / p) for p in src["wikipedia"][lang]] for lang in langs
                        if lang in src["wikipedia"]}
    for key in ("chat", "math", "code"):
        src[key] = [str(ROOT / p) for p in src[key]]
    if languages:
        values["languages"] = languages
    return values


def ids_by_subset(out: Path) -> dict[str, list[str]]:
    """Record ids per ``lang/subset`` (sorted, duplicates kept); every shard in the schema."""
    found = {}
    for d in sorted(out.glob("*/*")):
        if d.parent.name.startswith("_") or d.name not in SUBSETS:
            continue
        ids = []
        for f in sorted(d.glob("part-*.parquet")):
            table = pq.read_table(f)
            assert table.schema.equals(conversation_schema())
            ids += table.column("id").to_pylist()
        found[f"{d.parent.name}/{d.name}"] = sorted(ids)
    return found


def records_digest(out: Path) -> dict[str, dict[str, Any]]:
    """Per ``lang/subset``: row count and a sha256 of every record (canonical JSON, sorted by
    id), the input file named relative to the checkout, so two checkouts agree byte for byte."""
    import hashlib
    import json

    digest = {}
    for d in sorted(out.glob("*/*")):
        if d.parent.name.startswith("_") or d.name not in SUBSETS:
            continue
        rows = []
        for f in sorted(d.glob("part-*.parquet")):
            rows += pq.read_table(f).to_pylist()
        for row in rows:
            file = (row.get("source") or {}).get("file")
            if file:
                row["source"]["file"] = file.replace(str(ROOT), "<checkout>")
        rows.sort(key=lambda r: r["id"])
        h = hashlib.sha256()
        for row in rows:
            h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode() + b"\n")
        digest[f"{d.parent.name}/{d.name}"] = {"rows": len(rows), "sha256": h.hexdigest()}
    return digest
