"""Ray Data batches as Python rows and back: any batch format in, an Arrow table out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa


def rows_of(batch: Any) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Python rows from any Ray Data batch format (pyarrow, pandas, dict of numpy arrays)."""
    if isinstance(batch, pa.Table):
        return batch.to_pylist(), list(batch.column_names)
    if isinstance(batch, Mapping):
        columns = list(batch.keys())
        values = [_py(batch[c]) for c in columns]
        n = len(values[0]) if values else 0
        return [{c: v[i] for c, v in zip(columns, values)} for i in range(n)], columns
    to_dict = getattr(batch, "to_dict", None)  # pandas
    if callable(to_dict):
        return [{k: _py(v) for k, v in r.items()} for r in to_dict("records")], list(batch.columns)
    raise TypeError(f"unsupported batch type {type(batch).__name__}")


def _py(value: Any) -> Any:
    """numpy arrays/scalars (as Ray hands out nested columns) to plain Python."""
    if isinstance(value, np.ndarray):
        return [_py(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _py(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_py(v) for v in value]
    return value


def to_table(rows: list[dict[str, Any]], batch: Any) -> pa.Table:
    """Rows to an Arrow table; every column any row has (missing values null)."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    if not rows and isinstance(batch, pa.Table):
        return batch.slice(0, 0)
    return pa.Table.from_pylist([{k: row.get(k) for k in names} for row in rows])
