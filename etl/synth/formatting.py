"""Numpy digits into fixed-width Arrow strings (much faster than strftime), chunk by chunk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from etl.synth.timeframe import DAY, HOUR, NO_TIME, REFERENCE_TIME


def strings(chars: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    n, w = chars.shape
    offsets = np.arange(n + 1, dtype=np.int64) * w
    if offsets[-1] >= 2**31:
        raise ValueError("string column too large for one chunk")
    bitmap, nulls = None, 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(n - np.count_nonzero(valid))
    data = pa.py_buffer(np.ascontiguousarray(chars).reshape(-1))
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), data, bitmap, nulls
    )


def put_digits(out: np.ndarray, start: int, width: int, values: np.ndarray) -> None:
    v = values.astype(np.int64, copy=True)
    for k in range(start + width - 1, start - 1, -1):
        out[:, k] = v % 10 + 48
        v //= 10


def put_text(out: np.ndarray, start: int, text: str) -> None:
    raw = np.frombuffer(text.encode(), dtype=np.uint8)
    out[:, start : start + len(raw)] = raw


def id_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    out = np.empty((len(numbers), len(prefix) + width), dtype=np.uint8)
    put_text(out, 0, prefix)
    put_digits(out, len(prefix), width, numbers)
    return strings(out)


def civil(sec: np.ndarray) -> tuple[np.ndarray, ...]:
    """(year, month, day, seconds of day) of epoch seconds (proleptic Gregorian, UTC)."""
    days = sec // DAY
    sod = sec - days * DAY
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d, sod


def _date_chars(sec: np.ndarray, width: int = 10) -> np.ndarray:
    y, m, d, sod = civil(sec)
    out = np.empty((len(sec), width), dtype=np.uint8)
    put_digits(out, 0, 4, y)
    out[:, 4] = out[:, 7] = ord("-")
    put_digits(out, 5, 2, m)
    put_digits(out, 8, 2, d)
    if width == 20:
        out[:, 10] = ord("T")
        put_digits(out, 11, 2, sod // HOUR)
        out[:, 13] = out[:, 16] = ord(":")
        put_digits(out, 14, 2, sod // 60 % 60)
        put_digits(out, 17, 2, sod % 60)
        out[:, 19] = ord("Z")
    return out


def times(sec: np.ndarray) -> pa.Array:
    """ISO 8601 UTC times like 2025-03-01T12:30:00Z; NO_TIME is unknown (null)."""
    valid = sec != NO_TIME if sec.size and sec.min() == NO_TIME else None
    # Unknown times still need some digits under the null bit; REFERENCE_TIME is as good as any.
    safe = np.where(valid, sec, REFERENCE_TIME) if valid is not None else sec
    return strings(_date_chars(safe.astype(np.int64), 20), valid)


def dates(sec: np.ndarray) -> pa.Array:
    return strings(_date_chars(sec.astype(np.int64), 10))


def choice_strings(words: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """The words at codes; a negative code is null."""
    arr = pa.array(words, type=pa.string())
    if codes.size and codes.min() < 0:
        return arr.take(pa.array(codes, mask=codes < 0))
    return arr.take(pa.array(codes))


def int_strings(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())
