"""Exact decimals and timestamps as Arrow arrays, built from numpy integers (no Python rows)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Costs are integers of 1e-12 dollars (unit price at 1e-8 x quantity at 1e-4).
COST_SCALE = 12
PRICE_SCALE = 8
QTY_SCALE = 4
MONEY = pa.decimal128(38, 12)
QUANTITY = pa.decimal128(38, 16)
TS = pa.timestamp("us", tz="UTC")


def decimal(values: np.ndarray, scale: int, target: pa.DataType = MONEY,
            valid: np.ndarray | None = None) -> pa.Array:
    """A decimal128 array holding ``values * 10**-scale`` exactly (values: int64)."""
    v = np.ascontiguousarray(values, dtype=np.int64)
    words = np.empty((len(v), 2), dtype=np.int64)
    words[:, 0] = v
    words[:, 1] = v >> 63  # two's complement sign extension to 128 bits
    arr = pa.Array.from_buffers(pa.decimal128(38, scale), len(v),
                                [None, pa.py_buffer(words.tobytes())])
    if target != arr.type:
        arr = arr.cast(target)
    if valid is not None:
        arr = pc.if_else(pa.array(valid), arr, pa.scalar(None, target))
    return arr


def timestamps(days: np.ndarray, epoch: np.datetime64) -> pa.Array:
    """UTC timestamps at midnight ``days`` after ``epoch`` (a numpy datetime64[D])."""
    micros = (epoch + days.astype("timedelta64[D]")).astype("datetime64[us]").astype(np.int64)
    return pa.array(micros, type=pa.int64()).view(TS)


def strings(values: list[str | None]) -> pa.Array:
    """A dictionary-encoded string column (cheap to ``take`` millions of times)."""
    return pc.dictionary_encode(pa.array(values, pa.string()))
