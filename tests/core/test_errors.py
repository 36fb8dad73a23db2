"""User errors are one line and exit 2, checked before anything is written; no credential
reaches stderr or a log line, with ``-v`` included."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from ultralink.cli import main
from ultralink.core.errors import RedactingFilter, redact

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "enwiki-sample.xml"
KEY, SECRET = "AKIAREDACTME0001", "s3cr3t/REDACTME+0002"


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_yaml_syntax_error_is_one_line(tmp_path, capsys):
    bad = tmp_path / "job.yaml"
    bad.write_text("output: out\nsources: [unclosed\n")
    assert main(["build", "--config", str(bad)]) == 2
    assert "line" in one_line(capsys)
    assert main(["prepare", "--language", "en", "--input", str(SAMPLE), "--output",
                 str(tmp_path / "o"), "--config", str(bad)]) == 2
    assert "YAML syntax error" in one_line(capsys)
    assert not (tmp_path / "o").exists()


def test_output_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["prepare", "--language", "en", "--input", str(SAMPLE), "--output",
                 str(tmp_path / "afile" / "out")]) == 2
    assert "is a file" in one_line(capsys)


def test_unreachable_s3_endpoint_is_refused_up_front(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")   # nobody there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert main(["prepare", "--language", "en", "--input", str(SAMPLE), "--output",
                 "s3://bucket/out"]) == 2
    assert "not reachable" in one_line(capsys)
    assert main(["prepare", "--language", "en", "--input", "s3://bucket/dumps/x.xml",
                 "--output", str(tmp_path / "o")]) == 2
    assert "not reachable" in one_line(capsys)
    assert not (tmp_path / "o").exists()           # refused before anything was written


def test_build_with_a_missing_input_writes_nothing(tmp_path, capsys):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "_manifest.json").write_text('{"job": "build", "config_hash": "abc", "stages": {}}')
    before = (out / "_manifest.json").read_bytes()
    cfg = tmp_path / "job.yaml"
    cfg.write_text(f"output: {out}\nlanguages: [en]\nsources:\n  wikipedia:\n"
                   f"    en: [{tmp_path / 'no-such-dump.xml.bz2'}]\n")
    assert main(["build", "--config", str(cfg)]) == 2
    assert "no-such-dump.xml.bz2" in one_line(capsys)
    assert (out / "_manifest.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json"]


def test_credentials_in_a_uri_are_never_echoed(tmp_path, capsys):
    assert main(["prepare", "--language", "en", "--input", f"s3://{KEY}:{SECRET}@bucket/x.xml",
                 "--output", str(tmp_path / "o")]) == 2
    err = one_line(capsys)
    assert KEY not in err and SECRET not in err and "s3://***@bucket" in err


def test_redaction_of_headers_and_uris():
    line = ("headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAXYZ/20260101/us-east-1/"
            "s3/aws4_request, SignedHeaders=host, Signature=abcdef0123', "
            "'X-Amz-Security-Token': b'FQoGZXIvYXdzEJr'} url=https://user:pw@host/p")
    out = redact(line)
    for secret in ("AKIAXYZ", "abcdef0123", "FQoGZXIvYXdzEJr", "user:pw"):
        assert secret not in out
    record = logging.LogRecord("botocore", logging.DEBUG, __file__, 1, "got %s", (line,), None)
    RedactingFilter().filter(record)
    assert "AKIAXYZ" not in record.getMessage()


def test_verbose_log_of_s3_requests_has_no_keys(tmp_path, s3_env, moto_server):
    """``-v`` turns botocore's request dumps on; their Authorization headers are redacted."""
    cfg = tmp_path / "job.yaml"
    cfg.write_text(f"output: s3://{s3_env}/ds\nlanguages: [en]\nsources:\n  wikipedia:\n"
                   f"    en: [{tmp_path / 'missing.xml'}]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_ENDPOINT_URL": moto_server,
           "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET,
           "AWS_DEFAULT_REGION": "us-east-1"}
    proc = subprocess.run([sys.executable, "-m", "ultralink", "-v", "build", "--config", str(cfg)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Authorization" in proc.stderr          # botocore's debug dump was logged ...
    assert KEY not in proc.stderr and SECRET not in proc.stderr   # ... without the keys
    assert "Traceback" not in proc.stderr


@pytest.fixture(autouse=True)
def _restore_logging():
    """``main`` installs redacting filters on the root handlers; leave them as found."""
    root = logging.getLogger()
    saved = {h: list(h.filters) for h in root.handlers}
    level = root.level
    yield
    for h, filters in saved.items():
        h.filters[:] = filters
    root.setLevel(level)
