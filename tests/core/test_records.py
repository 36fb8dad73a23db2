"""The record types are written down once: the typed ``Source``/``Meta`` fields are the Arrow
struct's, and a misspelt key is an error instead of a silently null column."""

from __future__ import annotations

import pytest

from ultralink.core.records import (META_FIELDS, SOURCE_FIELDS, Conversation, Turn,
                               conversation_schema)


def test_typed_fields_are_the_arrow_structs():
    schema = conversation_schema()
    assert tuple(schema.field("source").type.names) == SOURCE_FIELDS
    assert tuple(schema.field("meta").type.names) == META_FIELDS


def test_a_misspelt_key_is_named_not_nulled():
    conv = Conversation("r1", "en", "math", [Turn("user", "q")], source={"dataset": "gsm8k",
                                                                        "titel": "x"})
    with pytest.raises(ValueError, match=r"record r1: source has no field\(s\) \['titel'\]"):
        conv.to_row()
    ok = Conversation("r2", "en", "math", [Turn("user", "q")], source={"dataset": "gsm8k"},
                      group="a question")
    row = ok.to_row()
    assert row["source"]["dataset"] == "gsm8k" and row["source"]["title"] is None
    assert "group" not in row   # transient: pruning's key, never written
