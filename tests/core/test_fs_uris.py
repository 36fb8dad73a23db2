"""One normalised location per URI: ``s3://`` keys resolve ``.``, ``..`` and doubled slashes
before anything is written (S3 itself would keep them as literal key characters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ultralink.core.errors import UsageError
from ultralink.core.fs import normal_s3_uri, resolve


@pytest.mark.parametrize("uri, normal", [
    ("s3://b", "s3://b"),
    ("s3://b/", "s3://b"),
    ("s3://b/a//c/./d/", "s3://b/a/c/d"),
    ("s3://b/a/../x", "s3://b/x"),
    ("s3://b/dumps/*.bz2", "s3://b/dumps/*.bz2"),
])
def test_s3_keys_are_normalised(uri, normal):
    assert normal_s3_uri(uri) == normal
    loc = resolve(uri)
    assert loc.uri == normal and loc.path == normal[len("s3://"):]


@pytest.mark.parametrize("uri, why", [
    ("s3://b/a/../../etc", "climbs above the bucket"),
    ("s3:///x", "no bucket"),
])
def test_s3_uris_that_cannot_be_normalised_are_refused(uri, why):
    with pytest.raises(UsageError, match=why):
        resolve(uri)


def test_cli_refuses_such_an_output_in_one_line(capsys):
    from ultralink.cli import main

    sample = Path(__file__).resolve().parents[2] / "data" / "sample" / "enwiki-sample.xml"
    code = main(["prepare", "--language", "en", "--input", str(sample),
                 "--output", "s3://b/a/../../etc"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "climbs above the bucket" in err[0]
