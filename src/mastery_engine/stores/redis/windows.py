"""Each skill's latest quiz answers and failed attempts in Redis: packed windows, merged in Lua.

The `recent` and `failures` hashes map a skill id to its window: the marks (answers or failed
attempts), oldest first, concatenated. Both start with occurred_at plus 2**63, big-endian (so
byte order, and the order of its two 32-bit halves, is the order of the instants, negative
ones and those beyond 2**53 included). An answer is `>QdH` + the event id in UTF-8: the score
as a double (bit-exact, never formatted as text) and the id's length in bytes. A failed
attempt is `>QHH` + the event id + the error type, both in UTF-8, after their lengths in
bytes. Lua unpacks the fields only to sort; what it stores back are the bytes Python packed.

Marks are ordered as the dataclasses are: by (occurred_at, event id, third field), ids and
error types by code point (the byte order of UTF-8), scores as numbers (a double's bytes
would put negative ones backwards). An event gives one mark, so two with the same
(occurred_at, id) are the same event, sent again: the third field only tells exact repeats
(dropped) from an event whose body changed after its id was purged (both kept, as in Python).

Students written before a window was kept have no key for it: it fills from new events.
"""

import struct
from collections.abc import Callable, Sequence
from typing import Any

from mastery_engine.core.aggregates import Contribution
from mastery_engine.core.recent import RECENT_ANSWERS, RECENT_FAILURES, Answer, Failure

ANSWER = struct.Struct(">QdH")  # occurred_at + BIAS, score, id length in bytes
FAILURE = struct.Struct(">QHH")  # occurred_at + BIAS, id and error type lengths in bytes
# Lengths fit `H`: ids and error types are at most MAX_ID_LENGTH characters, 4 bytes each.
BIAS = 2**63
SIZES = (RECENT_ANSWERS, RECENT_FAILURES)  # K of the `recent` and `failures` windows

Row = tuple[int, str, Any]  # occurred_at, event id, score or error type
Reader = Callable[[bytes, int], tuple[Row, int]]

# add_mark(pending, skill, packed) gathers a batch's fresh marks per skill; then
# merge_windows(key, pending, k, read) stores, for each of those skills only, the union with
# the stored window, de-duplicated, in order and cut to the `k` latest; `read` is answer_at
# or failure_at.
LUA = """
local function add_mark(pending, skill, packed)
  if packed == '' then return end
  local added = pending[skill] or {}
  pending[skill] = added
  added[#added + 1] = packed
end

local function bytes_before(a, b)
  -- Not `a < b`: Lua compares strings by the server's collation locale; Python by code
  -- point, which is the byte order of UTF-8.
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- A mark: {instant's high half, low half, event id, score or error type, packed bytes}.
local function mark_before(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  if a[2] ~= b[2] then return a[2] < b[2] end
  if a[3] ~= b[3] then return bytes_before(a[3], b[3]) end
  if type(a[4]) == 'number' then return a[4] < b[4] end
  return bytes_before(a[4], b[4])
end

local function answer_at(packed, at)
  local high, low, score, id, next = struct.unpack('>I4I4dHc0', packed, at)
  return {high, low, id, score, string.sub(packed, at, next - 1)}, next
end

local function failure_at(packed, at)
  local high, low, size, error_size, start = struct.unpack('>I4I4HH', packed, at)
  local middle, next = start + size, start + size + error_size
  local id, kind = string.sub(packed, start, middle - 1), string.sub(packed, middle, next - 1)
  return {high, low, id, kind, string.sub(packed, at, next - 1)}, next
end

local function marks_of(packed, read)
  local found, at = {}, 1
  while at <= #packed do
    local mark, next = read(packed, at)
    found[#found + 1] = mark
    at = next
  end
  return found
end

local function insert(window, new, k)
  local i = #window
  while i > 0 and mark_before(new, window[i]) do i = i - 1 end
  if i > 0 and window[i][5] == new[5] then return end  -- a repeat: already kept
  table.insert(window, i + 1, new)
  while #window > k do table.remove(window, 1) end
end

local function merge_windows(key, pending, k, read)
  for skill, added in pairs(pending) do
    -- A stored window is sorted: each mark goes in by a scan from its latest end, one
    -- comparison for a mark later than the rest (the usual case), no sort of the union.
    local window = marks_of(redis.call('HGET', key, skill) or '', read)
    for _, new in ipairs(marks_of(table.concat(added), read)) do insert(window, new, k) end
    local kept = {}
    for i, mark in ipairs(window) do kept[i] = mark[5] end
    redis.call('HSET', key, skill, table.concat(kept))
  end
end
"""


def packed(mark: Answer | Failure) -> bytes:
    """One answer or failed attempt as its window stores it."""
    event_id = mark.event_id.encode()
    biased = mark.occurred_at + BIAS
    if isinstance(mark, Answer):
        # + 0.0 turns -0.0 into 0.0: equal answers must pack to equal bytes to be de-duplicated.
        return ANSWER.pack(biased, mark.score + 0.0, len(event_id)) + event_id
    error_type = mark.error_type.encode()
    return FAILURE.pack(biased, len(event_id), len(error_type)) + event_id + error_type


def marks(item: Contribution) -> tuple[bytes, bytes]:
    """The packed answer and failed attempt an event adds to its skill's windows (b"" if none)."""
    answer = b"" if item.answer is None else packed(item.answer)
    failure = b"" if item.failure is None else packed(item.failure)
    return answer, failure


def answer_at(window: bytes, at: int) -> tuple[Row, int]:
    """(occurred_at, event_id, score) of the answer packed at `at`, and where the next starts."""
    biased, score, size = ANSWER.unpack_from(window, at)
    start = at + ANSWER.size
    return (biased - BIAS, window[start : start + size].decode(), score), start + size


def failure_at(window: bytes, at: int) -> tuple[Row, int]:
    """(occurred_at, event_id, error_type) of the failed attempt packed at `at`, and the next."""
    biased, size, error_size = FAILURE.unpack_from(window, at)
    start = at + FAILURE.size
    middle, end = start + size, start + size + error_size
    return (biased - BIAS, window[start:middle].decode(), window[middle:end].decode()), end


def window_rows(fields: Sequence[Any], read: Reader) -> list[tuple[Any, ...]]:
    """(skill, occurred_at, event_id, score or error type) of every mark in an HGETALL reply."""
    found = []
    for skill, window in zip(fields[::2], fields[1::2], strict=True):
        name, at = skill.decode(), 0
        while at < len(window):
            row, at = read(window, at)
            found.append((name, *row))
    return found
