"""Each skill's latest quiz answers in Redis: the packed window, and its merge in Lua.

The `recent` hash maps a skill id to its window: the answers, oldest first, concatenated. An
answer is packed big-endian as `>QdH` + the event id in UTF-8: occurred_at plus 2**63 (so
byte order, and the order of its two 32-bit halves, is the order of the instants, negative
ones and those beyond 2**53 included), the score as a double (bit-exact, never formatted as
text), and the id's length in bytes. Lua unpacks the fields only to sort; what it stores back
are the answers' bytes as Python packed them.

Students written before windows were kept have no `recent` key: their windows fill from new
answers.
"""

import struct
from collections.abc import Sequence
from typing import Any

from mastery_engine.core.recent import Answer

HEAD = struct.Struct(">QdH")  # occurred_at + BIAS, score, id length in bytes
BIAS = 2**63

# add_answer(pending, skill, packed) gathers a batch's fresh answers per skill; then
# merge_windows(key, pending, k) stores, for each of those skills only, the union with the
# stored window, de-duplicated, in (occurred_at, event id, score) order and cut to the `k`
# latest.
LUA = """
local function add_answer(pending, skill, packed)
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

local function answer_before(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  if a[2] ~= b[2] then return a[2] < b[2] end
  if a[4] ~= b[4] then return bytes_before(a[4], b[4]) end
  return a[3] < b[3]
end

local function answers_of(packed)
  local found, at = {}, 1
  while at <= #packed do
    local high, low, score, id, next = struct.unpack('>I4I4dHc0', packed, at)
    found[#found + 1] = {high, low, score, id, string.sub(packed, at, next - 1)}
    at = next
  end
  return found
end

local function insert(window, new, k)
  local i = #window
  while i > 0 and answer_before(new, window[i]) do i = i - 1 end
  if i > 0 and window[i][5] == new[5] then return end  -- a repeat: already kept
  table.insert(window, i + 1, new)
  while #window > k do table.remove(window, 1) end
end

local function merge_windows(key, pending, k)
  for skill, added in pairs(pending) do
    -- A stored window is sorted: each answer goes in by a scan from its latest end, one
    -- comparison for an answer later than the rest (the usual case), no sort of the union.
    local window = answers_of(redis.call('HGET', key, skill) or '')
    for _, new in ipairs(answers_of(table.concat(added))) do insert(window, new, k) end
    local kept = {}
    for i, answer in ipairs(window) do kept[i] = answer[5] end
    redis.call('HSET', key, skill, table.concat(kept))
  end
end
"""


def packed(answer: Answer) -> bytes:
    """One answer as the window stores it."""
    event_id = answer.event_id.encode()
    # + 0.0 turns -0.0 into 0.0: equal answers must pack to equal bytes to be de-duplicated.
    return HEAD.pack(answer.occurred_at + BIAS, answer.score + 0.0, len(event_id)) + event_id


def window_rows(fields: Sequence[Any]) -> list[tuple[str, int, str, float]]:
    """(skill, occurred_at, event_id, score) of every answer in a flat HGETALL reply."""
    found = []
    for skill, window in zip(fields[::2], fields[1::2], strict=True):
        name, at = skill.decode(), 0
        while at < len(window):
            biased, score, size = HEAD.unpack_from(window, at)
            start = at + HEAD.size
            at = start + size
            found.append((name, biased - BIAS, window[start:at].decode(), score))
    return found
