"""``ultralink prepare`` end to end on local Ray: sample languages, resume, S3, bad input."""

from __future__ import annotations

import bz2
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.build_helpers import kill_session
from ultralink.cli import main
from ultralink.jobs.prepare.config import PrepareConfig
from ultralink.jobs.prepare import NoInput, run_prepare

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
LANGS = ["en", "zh", "ru", "fr", "es"]


def sample(lang: str) -> Path:
    return SAMPLE / f"{lang}wiki-sample.xml"


def read_segments(out: Path) -> list[dict]:
    rows: list[dict] = []
    for part in sorted(out.glob("part-*.parquet")):
        rows.extend(pq.read_table(part).to_pylist())
    return rows


@pytest.mark.parametrize("lang", LANGS)
def test_sample_language(ray_local, tmp_path, lang):
    out = tmp_path / lang
    assert main(["prepare", "--language", lang, "--input", str(sample(lang)), "--output", str(out)]) == 0
    report = json.loads((out / "_report.json").read_text())
    rows = read_segments(out)
    assert rows, report
    assert report["segments_written"] == len(rows)
    assert report["documents"]["seen"] >= 7
    dropped = report["dropped"]
    for reason in ("redirect", "namespace", "too_short", "disambiguation"):
        assert dropped.get(reason, 0) >= 1, (reason, dropped)
    if lang in ("en", "zh"):
        assert dropped.get("language", 0) >= 1, dropped  # the foreign-language article
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    for r in rows:
        assert r["language"] == lang
        assert 1000 <= r["n_tokens"] <= 2000
        assert r["url"].startswith(f"https://{lang}.wikipedia.org/wiki/")
        assert r["source_file"].endswith(f"{lang}wiki-sample.xml")
        assert "[[" not in r["text"] and "{{" not in r["text"] and "<ref" not in r["text"]
    stages = {s["stage"]: s for s in report["stages"]}
    assert stages["segment"]["out"] == len(rows)
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["units_done"] == report["units"]["total"]


def test_chinese_is_simplified(ray_local, tmp_path):
    import opencc

    out = tmp_path / "zh"
    run_prepare("zh", [str(sample("zh"))], str(out))
    t2s = opencc.OpenCC("t2s")
    for r in read_segments(out):
        assert t2s.convert(r["text"]) == r["text"]
        assert t2s.convert(r["title"]) == r["title"]


def test_rerun_skips_finished_units_and_overwrite_restarts(ray_local, tmp_path):
    out = tmp_path / "out"
    inputs = [str(sample(lang)) for lang in ("fr", "es")]
    # fr text fed as fr, es file is dropped by langid but still a unit of its own
    first = run_prepare("fr", inputs, str(out))
    ids = sorted(r["id"] for r in read_segments(out))
    assert first["units"]["run"] == first["units"]["total"] == 2
    second = run_prepare("fr", inputs, str(out))
    assert second["units"]["run"] == 0 and second["units"]["skipped_done"] == 2
    assert sorted(r["id"] for r in read_segments(out)) == ids
    assert second["segments_written"] == first["segments_written"]
    third = run_prepare("fr", inputs, str(out), overwrite=True)
    assert third["units"]["run"] == 2
    assert sorted(r["id"] for r in read_segments(out)) == ids


def test_other_config_needs_overwrite(ray_local, tmp_path):
    out = tmp_path / "out"
    run_prepare("es", [str(sample("es"))], str(out))
    assert main(["prepare", "--language", "es", "--input", str(sample("es")), "--output", str(out),
                 "--min-doc-tokens", "500"]) == 2


def test_bad_inputs_are_reported_and_the_rest_goes_on(ray_local, tmp_path):
    good = tmp_path / "good.xml.bz2"
    good.write_bytes(bz2.compress(sample("ru").read_bytes()))
    corrupt = tmp_path / "corrupt.xml.bz2"
    data = bytearray(bz2.compress(sample("ru").read_bytes()))
    data[len(data) // 2: len(data) // 2 + 64] = b"\x00" * 64
    corrupt.write_bytes(bytes(data))
    not_xml = tmp_path / "notes.xml"
    not_xml.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    missing = tmp_path / "missing.xml"
    out = tmp_path / "out"
    report = run_prepare("ru", [str(good), str(corrupt), str(not_xml), str(missing)], str(out))
    text = "\n".join(report["problems"])
    assert "missing.xml" in text and "notes.xml" in text and "corrupt.xml.bz2" in text
    good_rows = [r for r in read_segments(out) if r["source_file"].endswith("good.xml.bz2")]
    assert good_rows


def test_no_readable_input_exits_nonzero(ray_local, tmp_path):
    with pytest.raises(NoInput):
        run_prepare("en", [str(tmp_path / "nothing-here.xml")], str(tmp_path / "out"))
    assert main(["prepare", "--language", "en", "--input", str(tmp_path / "nope.xml"),
                 "--output", str(tmp_path / "out2")]) == 1


def test_s3_round_trip(ray_local, s3_env, moto_server):
    import boto3
    import pyarrow.fs as pafs

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.put_object(Bucket=s3_env, Key="dumps/eswiki.xml.bz2", Body=bz2.compress(sample("es").read_bytes()))
    # Ray workers get the endpoint through the filesystem object the driver passes them
    # the output named with '.', '..' and doubled slashes is the same location as its normal
    # form: keys, report and manifest all agree
    report = run_prepare("es", [f"s3://{s3_env}/dumps/*.bz2"],
                         f"s3://{s3_env}/tmp/..//segments/./es/")
    assert report["output"] == f"s3://{s3_env}/segments/es" and report["segments_written"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_env, Prefix="segments/es/")["Contents"]]
    assert "segments/es/_report.json" in keys and "segments/es/_manifest.json" in keys
    parts = [k for k in keys if k.rsplit("/", 1)[-1].startswith("part-")]
    assert parts and not [k for k in keys if ".tmp" in k]
    fs = pafs.S3FileSystem(endpoint_override=moto_server, scheme="http", region="us-east-1",
                           access_key="testing", secret_key="testing")
    table = pq.read_table(f"{s3_env}/segments/es/{parts[0].rsplit('/', 1)[-1]}", filesystem=fs)
    assert table.num_rows == report["segments_written"]


@pytest.mark.slow
def test_killed_run_resumes_without_duplicates(tmp_path):
    """SIGKILL the CLI after some units finished; the rerun completes the same set of ids."""
    inputs = []
    for lang in LANGS:  # several files × small units → many units
        for k in range(2):
            p = tmp_path / "in" / f"{lang}{k}.xml"
            p.parent.mkdir(exist_ok=True)
            text = sample(lang).read_text(encoding="utf-8")  # distinct page ids per copy
            p.write_text(re.sub(r"<id>(\d+)</id>", lambda m: f"<id>{m.group(1)}{k}</id>", text),
                         encoding="utf-8")
            inputs += ["--input", str(p)]
    base = [sys.executable, "-m", "ultralink", "prepare", "--language", "en", "--unit-mb", "1", *inputs]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ref = tmp_path / "ref"
    subprocess.run([*base, "--output", str(ref)], check=True, env=env, capture_output=True)
    out = tmp_path / "out"
    proc = subprocess.Popen([*base, "--output", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "_units").glob("*.json"))) >= 3:
            break
        time.sleep(0.05)
    kill_session(proc)   # also its Ray workers, which may still finish (mark) a unit
    done_before = len(list((out / "_units").glob("*.json")))
    rerun = subprocess.run([*base, "--output", str(out)], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    report = json.loads((out / "_report.json").read_text())
    assert report["units"]["skipped_done"] == done_before
    got = sorted(r["id"] for r in read_segments(out))
    assert got == sorted(r["id"] for r in read_segments(ref))
    assert len(got) == len(set(got))


def test_config_rejects_unknown_key():
    with pytest.raises(Exception, match="min_doc_tokenz"):
        PrepareConfig(min_doc_tokenz=3)


def _split_fr(tmp_path: Path) -> tuple[str, str]:
    """The fr sample as two dumps: pages 0-1 (one kept document each) and the rest."""
    text = sample("fr").read_text(encoding="utf-8")
    pages = re.findall(r"  <page>.*?</page>\n", text, re.S)
    head = text[:text.index("  <page>")]
    return (head + "".join(pages[:2]) + "</mediawiki>\n",
            head + "".join(pages[2:]) + "</mediawiki>\n")


def test_input_identity_changed_removed_and_respelled_inputs(ray_local, tmp_path, monkeypatch):
    """A truncated dump replaced by the full one is redone; a dropped input leaves the output;
    one file named three ways is one input. Each time the output equals a fresh run."""
    part1_text, part2_text = _split_fr(tmp_path)
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    part1, part2 = dumps / "part1.xml", dumps / "part2.xml"
    part1.write_text(part1_text[: len(part1_text) - 3000], encoding="utf-8")  # cut in page 1
    part2.write_text(part2_text, encoding="utf-8")
    out = tmp_path / "out"
    first = run_prepare("fr", [str(part1), str(part2)], str(out))
    assert any("truncated" in p for p in first["problems"])

    part1.write_text(part1_text, encoding="utf-8")   # the full download replaces the cut one
    fresh = run_prepare("fr", [str(part1), str(part2)], str(tmp_path / "fresh"))
    second = run_prepare("fr", [str(part1), str(part2)], str(out))
    ids = sorted(r["id"] for r in read_segments(out))
    assert ids == sorted(r["id"] for r in read_segments(tmp_path / "fresh"))
    assert len(ids) == fresh["segments_written"] == second["segments_written"] == 3
    assert not any("truncated" in p for p in second["problems"])
    manifest = json.loads((out / "_manifest.json").read_text())
    assert {i["uri"] for i in manifest["inputs"]} == {str(part1), str(part2)}
    assert all("size=" in i["version"] and "mtime_ns=" in i["version"] for i in manifest["inputs"])

    monkeypatch.chdir(tmp_path)
    spellings = [str(part2), "dumps/part2.xml", f"{dumps}/../dumps//part2.xml"]
    third = run_prepare("fr", spellings, str(out))
    rows = read_segments(out)
    assert third["files"]["found"] == 1 and third["units"]["total"] == 1
    assert sorted(r["id"] for r in rows) == sorted(
        r["id"] for r in read_segments(tmp_path / "fresh") if r["source_file"] == str(part2))
    assert len(rows) == 1 and len(list((out / "_units").glob("*.json"))) == 1


class _FlakyHandler:
    """A local filesystem whose first ``fail`` opens raise EIO, like a dropped NFS/S3 read."""

    def __init__(self, fail: int) -> None:
        import pyarrow.fs as pafs

        self.local = pafs.LocalFileSystem()
        self.fail = fail

    def __getattr__(self, name):
        return getattr(self.local, name)

    def open_input_file(self, path):
        if self.fail > 0:
            self.fail -= 1
            raise OSError(5, "Input/output error (simulated)")
        return self.local.open_input_file(path)


def _run_unit(unit, fs, out, part_bytes=None, language="fr"):
    """What the job does with one unit, in this process: read its parts, prepare each, mark it."""
    from ultralink.core.fs import resolve
    from ultralink.jobs.prepare import UnitParts
    from ultralink.pipeline.error_guard import ErrorGuard
    from ultralink.jobs.prepare.stage import PrepareParts
    from ultralink.jobs.prepare.read import read_parts
    from ultralink.dataset.sink import UnitStore

    job_config = {"language": language}
    preparer = PrepareParts(language, PrepareConfig(), resolve(str(out)), job_config)
    tracker = UnitParts(UnitStore(resolve(str(out)), "prepare", job_config), {unit.unit_id: unit},
                        ErrorGuard(PrepareConfig().error_limits, "pages"))
    rows = 0
    for part in read_parts(unit, fs, *([part_bytes] if part_bytes else [])):
        summary = preparer.prepare(part)
        tracker.add(summary)
        rows += summary["rows"]
    return rows, "".join(tracker.failed)


def test_a_unit_failing_on_io_is_retried_and_never_marked_done(tmp_path, monkeypatch):
    import ultralink.jobs.prepare.read as read_parts
    from ultralink.core.fs import expand
    from ultralink.sources.wikipedia import plan_units

    monkeypatch.setattr(read_parts, "IO_BACKOFF_S", 0.0)
    (loc,), _ = expand([str(sample("fr"))])
    unit = plan_units(loc, 1 << 30)[0]
    out = tmp_path / "out"
    rows, failed = _run_unit(unit, _FlakyHandler(fail=read_parts.IO_ATTEMPTS), out)  # every attempt fails
    assert failed and "Input/output error" in failed and rows == 0
    assert not (out / "_units").exists() and not list(out.glob("part-*"))

    rows, failed = _run_unit(unit, _FlakyHandler(fail=1), out)                      # a transient error: retried
    assert not failed and rows >= 1
    assert [p.stem for p in (out / "_units").glob("*.json")] == [unit.unit_id]


GOLDEN = ROOT / "tests" / "data" / "prepare_sample_segments.json"
SEGMENT_FIELDS = ("id", "doc_id", "title", "url", "language", "segment_index", "text", "n_tokens")


def _digest(rows: list[dict]) -> str:
    import hashlib

    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: r["id"]):
        h.update(json.dumps([r[f] for f in SEGMENT_FIELDS], ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


@pytest.mark.parametrize("lang", LANGS)
def test_sample_segments_are_unchanged(tmp_path, lang):
    """The sample's segments (ids, texts, token counts) equal those recorded before reading
    and preparing became separate stages (tests/data/prepare_sample_segments.json)."""
    from ultralink.core.fs import expand
    from ultralink.sources.wikipedia import plan_units

    (loc,), _ = expand([str(sample(lang))])
    (unit,) = plan_units(loc, 1 << 30)
    _run_unit(unit, loc.fs, tmp_path / "out", language=lang)
    rows = read_segments(tmp_path / "out")
    want = json.loads(GOLDEN.read_text())[lang]
    assert (len(rows), _digest(rows)) == (want["segments"], want["sha256"])


def test_a_single_stream_bz2_is_read_in_parts_with_the_same_segments(tmp_path):
    """One bz2 stream is one unit; cut into many parts it gives the segments of one part."""
    from ultralink.core.fs import expand
    from ultralink.sources.wikipedia import plan_units

    text = sample("en").read_text(encoding="utf-8")
    head, rest = text.split("  <page>", 1)
    pages = "  <page>" + rest.rsplit("</mediawiki>", 1)[0]
    copies = [re.sub(r"<id>(\d+)</id>", lambda m: f"<id>{m.group(1)}{k}</id>", pages) for k in range(3)]
    dump = tmp_path / "enwiki-pages-articles1.xml.bz2"
    dump.write_bytes(bz2.compress((head + "".join(copies) + "</mediawiki>\n").encode()))
    (loc,), _ = expand([str(dump)])
    (unit,) = plan_units(loc, 1 << 10)            # not splittable: one unit however small
    _run_unit(unit, loc.fs, tmp_path / "whole", language="en")
    _run_unit(unit, loc.fs, tmp_path / "parts", part_bytes=20_000, language="en")
    marker = json.loads((tmp_path / "parts" / "_units" / f"{unit.unit_id}.json").read_text())
    assert marker["parts"] > 3 and marker["counters"]["counts"]["pages_read"] == 24
    assert len(list((tmp_path / "parts").glob(f"part-{unit.unit_id}.p*.parquet"))) > 1
    whole, parts = read_segments(tmp_path / "whole"), read_segments(tmp_path / "parts")
    assert len(whole) == 9 and _digest(parts) == _digest(whole)


def test_a_unit_cut_short_is_redone_from_nothing(ray_local, tmp_path):
    """A unit with parts but no marker (a crash mid-unit) is redone; no stray part survives."""
    out = tmp_path / "out"
    first = run_prepare("fr", [str(sample("fr"))], str(out))
    ids = sorted(r["id"] for r in read_segments(out))
    (marker,) = (out / "_units").glob("*.json")
    uid = marker.stem
    marker.unlink()
    stray = out / f"part-{uid}.p00042.parquet"     # a part the crashed run wrote, not this one
    (out / f"part-{uid}.p00000.parquet").rename(stray)
    second = run_prepare("fr", [str(sample("fr"))], str(out))
    assert second["units"]["run"] == 1 and not stray.exists()
    assert sorted(r["id"] for r in read_segments(out)) == ids
    assert second["segments_written"] == first["segments_written"]


def test_prepare_job_identity_leaves_run_control_out_and_reports_every_step():
    from ultralink.core.counters import Counters
    from ultralink.jobs.prepare import PrepareJob

    strict = PrepareConfig(error_limits={"min_errors": 99})
    job = PrepareJob("fr", strict)
    assert job.name == "prepare" and job.config is strict
    assert job.identity() == PrepareJob("fr", PrepareConfig()).identity()
    assert job.identity()["language"] == "fr" and "error_limits" not in job.identity()["prepare"]
    totals = Counters()
    totals.add("pages_read", 3)
    totals.add("rows_written", 2)
    report = job.report(totals, Counters())
    assert report.job == "prepare" and (report.records_in, report.records_out) == (3, 2)
    assert report.tokens_kind == "segment"
    assert [s.name for s in report.stages][0] == "read" and len(report.stages) > 1


def test_report_says_how_much_zh_text_was_converted():
    from ultralink.core.counters import Counters
    from ultralink.jobs.prepare.report import RunFacts, build_report, stage_report, summary_text

    totals = Counters({"pages_read": 64, "variant_markup": 18, "opencc_changed": 56,
                       "terms_changed": 28})
    facts = RunFacts(language="zh", inputs=["wiki_00"], output="out", config=PrepareConfig(),
                     files_found=1, files_ok=1, units_total=1, units_run=1, started=time.time())
    report = build_report(facts, stage_report(totals, totals), totals, totals)
    assert report["documents"]["variant_markup"] == 18
    assert report["documents"]["opencc_changed"] == 56
    assert report["documents"]["terms_changed"] == 28
    assert ("variant markup resolved 18, changed by OpenCC 56, by the term table 28"
            in summary_text(report))
    plain = build_report(facts, stage_report(Counters(), Counters()), Counters(), Counters())
    assert "OpenCC" not in summary_text(plain)
