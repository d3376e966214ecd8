"""Vectorised string building on Arrow arrays.

Millions of rows are rendered per run; Arrow compute kernels concatenate, pad and escape
strings in C, which keeps a 100k-customer sample well under a minute. Per-row Python is kept
for the small subsets that get typos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Strings = pa.Array  # an Arrow string array, possibly with nulls


def strings(values: Sequence[str | None] | np.ndarray) -> Strings:
    return pa.array(values, pa.string())


def _arg(part: Strings | str) -> Strings | pa.Scalar:
    return pa.scalar(part, pa.string()) if isinstance(part, str) else part


def cat(*parts: Strings | str) -> Strings:
    """Element-wise concatenation; plain str parts are broadcast, a null part gives null."""
    return pc.binary_join_element_wise(*[_arg(p) for p in parts], "")


def where(mask: np.ndarray, when_true: Strings | str, when_false: Strings | str) -> Strings:
    return pc.if_else(pa.array(mask, pa.bool_()), _arg(when_true), _arg(when_false))


def take(table: Strings | Sequence[str], index: np.ndarray) -> Strings:
    if not isinstance(table, pa.Array):
        table = strings(table)
    return pc.take(table, pa.array(index, pa.int64()))


def numbers(values: np.ndarray, width: int = 0) -> Strings:
    """Integers as text, zero-padded to `width`."""
    text = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(text, width, "0") if width else text


def ids(prefix: str, values: np.ndarray, width: int) -> Strings:
    """Source-system ids such as CC000123; widens rather than truncates large numbers."""
    return cat(prefix, numbers(values, width))


def money(cents: np.ndarray) -> Strings:
    """Integer cents as a plain decimal with two places ('-12.05')."""
    cents = np.asarray(cents, dtype=np.int64)
    whole = numbers(np.abs(cents) // 100)
    text = cat(whole, ".", numbers(np.abs(cents) % 100, 2))
    return where(cents < 0, cat("-", text), text)


def strip_accents(values: Strings) -> Strings:
    """'Conceição Núñez' -> 'Conceicao Nunez', as typed on keyboards without dead keys."""
    return pc.replace_substring_regex(pc.utf8_normalize(values, "NFD"), r"\p{Mn}", "")


def replace_rows(values: Strings, rows: np.ndarray, replacement: Strings) -> Strings:
    """values with the given rows replaced (replacement aligned with rows)."""
    if rows.size == 0:
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[rows] = True
    in_row_order = pc.take(replacement, pa.array(np.argsort(rows, kind="stable")))
    return pc.replace_with_mask(values, pa.array(mask), in_row_order.cast(values.type))


def where_apply(mask: np.ndarray, values: Strings, fn: Callable[[Strings], Strings]) -> Strings:
    """Apply a string transform to the rows selected by mask (only those are computed)."""
    rows = np.flatnonzero(mask)
    return replace_rows(values, rows, fn(pc.take(values, pa.array(rows)))) if rows.size else values


_KEYBOARD_NEIGHBOURS = {
    "a": "sqz", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "kñ", "m": "n", "n": "mb", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "xa",
}


def typo(text: str, u: float, v: float) -> str:
    """One keyboard slip (swap, drop, double or neighbour key) at a position after the first
    letter; u picks the kind, v the position (both uniform in [0, 1))."""
    if len(text) < 3:
        return text
    i = 1 + int(v * (len(text) - 2))
    if u < 0.3:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if u < 0.55:
        return text[:i] + text[i + 1:]
    if u < 0.75:
        return text[:i] + text[i] + text[i:]
    neighbours = _KEYBOARD_NEIGHBOURS.get(text[i].lower())
    if not neighbours:
        return text[:i] + text[i + 1:]
    return text[:i] + neighbours[int(v * 997) % len(neighbours)] + text[i + 1:]


def with_typos(values: Strings, mask: np.ndarray, rng: np.random.Generator) -> Strings:
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return values
    picked = pc.take(values, pa.array(rows)).to_pylist()
    u, v = rng.random(rows.size), rng.random(rows.size)
    changed = [None if s is None else typo(s, u[k], v[k]) for k, s in enumerate(picked)]
    return replace_rows(values, rows, strings(changed))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def random_hex(rng: np.random.Generator, n: int, n_bytes: int) -> np.ndarray:
    """n random lowercase hex tokens of 2*n_bytes characters, as a uint8 matrix."""
    text = rng.bytes(n * n_bytes).hex().encode()
    return np.frombuffer(text, dtype=np.uint8).reshape(n, 2 * n_bytes).copy()


def _matrix_to_strings(chars: np.ndarray) -> Strings:
    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int32) * width
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()),
                                       pa.py_buffer(np.ascontiguousarray(chars).tobytes()))


def hex_tokens(rng: np.random.Generator, n: int, n_bytes: int) -> Strings:
    return _matrix_to_strings(random_hex(rng, n, n_bytes))


def uuid4s(rng: np.random.Generator, n: int) -> Strings:
    """Random version-4 UUID strings (8-4-4-4-12)."""
    chars = random_hex(rng, n, 16)
    chars[:, 12] = ord("4")
    chars[:, 16] = _HEX[8 + (chars[:, 16] % 4)]
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    return _matrix_to_strings(np.hstack([chars[:, :8], dash, chars[:, 8:12], dash,
                                         chars[:, 12:16], dash, chars[:, 16:20], dash,
                                         chars[:, 20:]]))


def _contains_any(values: Strings, chars: bytes) -> bool:
    """Whether any value holds one of the given ASCII characters (a scan of the raw bytes,
    far cheaper than a per-value regex)."""
    if len(values) == 0:
        return False
    array = values.cast(pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
    data = array.buffers()[2]
    if data is None:
        return False
    raw = bytes(memoryview(data)[offsets[array.offset]:offsets[array.offset + len(array)]])
    return any(raw.find(bytes([ch])) >= 0 for ch in chars)


def csv_field(values: Strings) -> Strings:
    """Minimal RFC 4180 quoting; nulls become empty fields (NULL for PostgreSQL COPY)."""
    if _contains_any(values, b'",\r\n'):
        needs_quotes = pc.fill_null(pc.match_substring_regex(values, r'[",\r\n]'), False)
        quoted = cat('"', pc.replace_substring(values, '"', '""'), '"')
        values = pc.if_else(needs_quotes, quoted, values)
    return pc.fill_null(values, "") if values.null_count else values


def csv_lines(columns: Sequence[Strings]) -> Strings:
    """One CSV line per row, each ending with a newline."""
    return cat(pc.binary_join_element_wise(*[csv_field(c) for c in columns], ","), "\n")


_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _json_string(values: Strings) -> Strings:
    if _contains_any(values, "".join(ch for ch, _ in _JSON_ESCAPES).encode()):
        for ch, escaped in _JSON_ESCAPES:
            values = pc.replace_substring(values, ch, escaped)
    return cat('"', values, '"')


def json_value(values: Strings) -> Strings:
    """JSON string literals (UTF-8 kept as is), or null."""
    return pc.fill_null(_json_string(values), "null")


def json_member(key: str, values: Strings, *, raw: bool = False) -> Strings:
    """`,"key":value`, or '' where the value is null (absent keys mean unknown). raw values
    are already JSON literals (numbers, booleans)."""
    literal = values if raw else _json_string(values)
    return pc.fill_null(cat(f',"{key}":', literal), "")


def grouped(keys: np.ndarray, render: Callable[[int, np.ndarray], tuple[Strings, ...]],
            outputs: int = 1) -> tuple[Strings, ...]:
    """Render rows group by group (e.g. with one phone template per country) and put the
    results back in row order. render gets a group key and its row numbers and returns a
    tuple of `outputs` string arrays for those rows."""
    if keys.size == 0:
        return tuple(strings([]) for _ in range(outputs))
    order = np.argsort(keys, kind="stable")
    bounds = np.flatnonzero(np.diff(keys[order])) + 1
    parts = [render(int(keys[chunk[0]]), chunk)
             for chunk in np.split(order, bounds) if chunk.size]
    inverse = pa.array(np.argsort(order, kind="stable"))
    return tuple(pc.take(pa.concat_arrays([p[i].cast(pa.string()) for p in parts]), inverse)
                 for i in range(outputs))
