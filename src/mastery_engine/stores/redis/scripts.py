"""The Redis store's Lua scripts, and how their arguments are built and replies decoded.

Each script runs atomically inside one student's hash slot, and gets the student's ten fixed
keys, in the order of `FIXED`, as KEYS[1..10]. Score buckets (`…:mastery:{date}:{component}`)
are found through the `days` set, whose members are the `{date}:{component}` suffixes; they
share the student's hash tag, so a cluster keeps them on the same node as the declared keys.

Values: a bucket field (per skill) packs n and the moments; `completions` maps
`{skill}:{exercise}` (both escaped) to the first time, `activity` a date to "first_at count",
`skills` a skill to its first time; `events` maps an id to its JSON body, `seen` (de-dup) and
`scored` (quiz and review events only) are sorted sets of ids by ingestion and occurrence time;
`recent` and `failures` map a skill to its window of latest answers or failed attempts.

Instants are integers sent as decimal text and compared as text (sign, then length, then
digits), which stays exact beyond 2**53 where Lua's doubles would round; they are negative
before 1970-01-01T00:00Z, which a valid time with a +23:59 offset can be. Moments are stored
as packed little-endian doubles: nothing is lost to a decimal round trip, and Lua adds them
with the same IEEE arithmetic as Python.
"""

import hashlib
import struct
from collections.abc import Sequence
from typing import Any, TypeVar

from mastery_engine.core.aggregates import contribution
from mastery_engine.core.events import Event
from mastery_engine.core.moments import MOMENTS
from mastery_engine.stores import rows
from mastery_engine.stores.redis import windows

T = TypeVar("T")
FIXED = ("version", "events", "seen", "scored", "completions", "activity", "skills", "days",
         "recent", "failures")  # fmt: skip

_HELPERS = """
local function earlier(a, b)
  -- 45 is '-': of two negative instants, the longer text is the earlier one.
  local minus_a, minus_b = string.byte(a) == 45, string.byte(b) == 45
  if minus_a ~= minus_b then return minus_a end
  if minus_a then return #a > #b or (#a == #b and a > b) end
  return #a < #b or (#a == #b and a < b)
end

local function keep_min(into, field, at)
  local known = into[field]
  if known == nil or earlier(at, known) then into[field] = at end
end

local function unpacked(packed)
  local values = {struct.unpack('<' .. string.rep('d', #packed / 8), packed)}
  values[#values] = nil  -- struct.unpack also returns the next read position
  return values
end
"""

# ARGV: token, TTL in seconds, ingested_at, the sizes K of `recent` and `failures`, bucket
# count B, the B bucket suffixes (KEYS[11..]), then 9 values per event: id, body, occurred_at,
# date, skill ('' for none), target (KEYS index of a score's bucket, or a completion's field,
# or ''), packed moments ('' unless a score), packed answer, packed failed attempt ('' for
# none). Returns {the version token the student had before ('' if new or nothing applied),
# {1 (applied) or 0 (duplicate) per event}}: the caller moves a snapshot cached at that token
# on to the new one. The TTL on the raw keys is a safety net renewed by each write: a key
# expires only once every record in it is past retention. `purge` is what removes records
# one by one; aggregates, windows included, have no TTL.
APPLY = (
    _HELPERS
    + windows.LUA
    + """
local function add_score(sums, index, skill, packed)
  local bucket = sums[index] or {}
  sums[index] = bucket
  local delta = unpacked(packed)
  local acc = bucket[skill]
  if acc == nil then
    bucket[skill] = delta
  else
    for k = 1, #delta do acc[k] = acc[k] + delta[k] end
  end
end

local function merge_scores(sums, suffixes)
  for index, skills in pairs(sums) do
    for skill, acc in pairs(skills) do
      local stored = redis.call('HGET', KEYS[index], skill)
      if stored then
        local old = unpacked(stored)
        for k = 1, #acc do acc[k] = acc[k] + old[k] end
      end
      local packed = struct.pack('<' .. string.rep('d', #acc), unpack(acc))
      redis.call('HSET', KEYS[index], skill, packed)
    end
    redis.call('SADD', KEYS[8], suffixes[index])
  end
end

local function merge_min(key, pending)
  for field, at in pairs(pending) do
    local stored = redis.call('HGET', key, field)
    if not stored or earlier(at, stored) then redis.call('HSET', key, field, at) end
  end
end

local function merge_activity(key, pending)
  for date, day in pairs(pending) do
    local stored = redis.call('HGET', key, date)
    if stored then
      local at, count = string.match(stored, '^(-?%d+) (%d+)$')
      if earlier(at, day[1]) then day[1] = at end
      day[2] = day[2] + tonumber(count)
    end
    redis.call('HSET', key, date, day[1] .. ' ' .. string.format('%d', day[2]))
  end
end

local buckets = tonumber(ARGV[6])
local suffixes = {}
for b = 1, buckets do suffixes[10 + b] = ARGV[6 + b] end
local flags, fresh, was = {}, 0, ''
local sums, done, active, skills, answers, failures = {}, {}, {}, {}, {}, {}
for i = 7 + buckets, #ARGV, 9 do
  local id, at, date, skill = ARGV[i], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local target, moments = ARGV[i + 5], ARGV[i + 6]
  if redis.call('ZSCORE', KEYS[3], id) then
    flags[#flags + 1] = 0
  else
    flags[#flags + 1] = 1
    fresh = fresh + 1
    redis.call('ZADD', KEYS[3], ARGV[3], id)
    redis.call('HSET', KEYS[2], id, ARGV[i + 1])
    local day = active[date]
    if day == nil then
      active[date] = {at, 1}
    else
      if earlier(at, day[1]) then day[1] = at end
      day[2] = day[2] + 1
    end
    if skill ~= '' then keep_min(skills, skill, at) end
    add_mark(answers, skill, ARGV[i + 7])
    add_mark(failures, skill, ARGV[i + 8])
    if moments ~= '' then
      redis.call('ZADD', KEYS[4], at, id)
      add_score(sums, tonumber(target), skill, moments)
    elseif target ~= '' then
      keep_min(done, target, at)
    end
  end
end
if fresh > 0 then
  merge_scores(sums, suffixes)
  merge_min(KEYS[5], done)
  merge_activity(KEYS[6], active)
  merge_min(KEYS[7], skills)
  merge_windows(KEYS[9], answers, tonumber(ARGV[4]), answer_at)
  merge_windows(KEYS[10], failures, tonumber(ARGV[5]), failure_at)
  was = redis.call('GET', KEYS[1]) or ''
  redis.call('SET', KEYS[1], ARGV[1])
  for k = 2, 4 do redis.call('EXPIRE', KEYS[k], ARGV[2]) end
end
return {was, flags}
"""
)

# ARGV: key base, cached version token, tail start ('(' + as_of), tail end. Returns false for
# an unknown student; {version, tail, latest} when the cached token still stands; otherwise
# {version, tail, latest, activity, skills, completions, {suffix, bucket fields, ...}, recent,
# failures}. The tail is flat (body, occurred_at, ...): only score events are indexed in
# `scored`; `latest` is the latest scored instant ('' for none).
READ = """
local version = redis.call('GET', KEYS[1])
if not version then return false end
local last = redis.call('ZRANGE', KEYS[4], 0, 0, 'REV', 'WITHSCORES')
local latest = last[2] or ''
local tail = {}
local found = redis.call('ZRANGEBYSCORE', KEYS[4], ARGV[3], ARGV[4], 'WITHSCORES')
for i = 1, #found, 2 do
  local body = redis.call('HGET', KEYS[2], found[i])
  if body then
    tail[#tail + 1] = body
    tail[#tail + 1] = found[i + 1]
  end
end
if version == ARGV[2] then return {version, tail, latest} end
local buckets = {}
for _, suffix in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  buckets[#buckets + 1] = suffix
  buckets[#buckets + 1] = redis.call('HGETALL', ARGV[1] .. ':mastery:' .. suffix)
end
return {version, tail, latest, redis.call('HGETALL', KEYS[6]), redis.call('HGETALL', KEYS[7]),
        redis.call('HGETALL', KEYS[5]), buckets, redis.call('HGETALL', KEYS[9]),
        redis.call('HGETALL', KEYS[10])}
"""

# ARGV: key base. Returns the number of keys removed.
DELETE = """
local removed = 0
for _, suffix in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  removed = removed + redis.call('DEL', ARGV[1] .. ':mastery:' .. suffix)
end
return removed + redis.call('DEL', unpack(KEYS))
"""

# ARGV: cutoff. Removes raw events and de-duplication records ingested before it; how many.
PURGE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1])
for i = 1, #ids, 1000 do
  local last = math.min(i + 999, #ids)
  redis.call('HDEL', KEYS[2], unpack(ids, i, last))
  redis.call('ZREM', KEYS[4], unpack(ids, i, last))
  redis.call('ZREM', KEYS[3], unpack(ids, i, last))
end
return #ids
"""

MOMENTS_PACK = struct.Struct(f"<{1 + 2 * MOMENTS}d")  # n, w0.., s0..
ESCAPES = str.maketrans({"%": "%25", ":": "%3A", "{": "%7B", "}": "%7D"})


def sha_of(script: str) -> str:
    """The SHA1 digest EVALSHA names a script by."""
    return hashlib.sha1(script.encode()).hexdigest()


def encode(part: str) -> str:
    """An id made safe for a key: no `:` to split on, no brace to break the hash tag."""
    return part.translate(ESCAPES)


def completion_field(skill: str, exercise: str) -> str:
    """The field of a completed exercise in the `completions` hash."""
    return f"{encode(skill)}:{encode(exercise)}"


def apply_call(base: str, events: Sequence[Event], token: str, ttl: int, now: int) -> list[Any]:
    """numkeys, KEYS and ARGV of the apply script for one student's new events."""
    buckets: dict[str, int] = {}
    records: list[Any] = []
    for event in events:
        item = contribution(event)
        target: str | int = ""
        moments = b""
        if item.score is not None:
            suffix = f"{rows.iso(item.score.day)}:{item.score.component.value}"
            target = buckets.setdefault(suffix, len(FIXED) + len(buckets) + 1)
            m = item.score.moments
            moments = MOMENTS_PACK.pack(m.n, *m.w, *m.s)
        elif item.completion is not None:
            target = completion_field(item.completion.skill_id, item.completion.exercise_id)
        day = rows.iso(item.activity.day)
        body = rows.event_body(event)
        skill = item.skill_id or ""
        records += [event.id, body, event.occurred_at, day, skill, target, moments]
        records += windows.marks(item)
    keys = [f"{base}:{name}" for name in FIXED] + [f"{base}:mastery:{s}" for s in buckets]
    return [len(keys), *keys, token, ttl, now, *windows.SIZES, len(buckets), *buckets, *records]


SCRIPTS = {"apply": APPLY, "read": READ, "delete": DELETE, "purge": PURGE}
