/**
 * Lua scripts of the Redis event log, registered with ioredis's `defineCommand` (EVALSHA, and
 * EVAL again after a Redis restart forgot them). Each runs atomically on the thread's slot.
 */

/**
 * Shared prologue: the stream's epoch and head, starting a new epoch when the meta hash is
 * missing (Redis lost the data) or was written by another Redis process (a restart or a
 * failover, which may have lost the last writes): the old stream is dropped, seq restarts at 1,
 * and subscribers resync instead of ever seeing a seq reused. Run fences and terminal records
 * are kept: they stay true across a restart that kept the hash.
 * KEYS[1] meta, KEYS[2] stream; ARGV[1] new epoch, ARGV[2] the server's run id as the client saw it.
 */
const OPEN_STREAM = `
local meta, stream = KEYS[1], KEYS[2]
local m = redis.call('HMGET', meta, 'e', 'r', 's')
local epoch, head = m[1], tonumber(m[3] or '0')
local reset = false
if (not epoch) or m[2] ~= ARGV[2] then
  epoch = ARGV[1]
  head = 0
  reset = true
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'e', epoch, 'r', ARGV[2], 's', 0)
  redis.call('HDEL', meta, 'o')
end
`;

/**
 * Appends one batch of calls to a thread: per call all or nothing, checks each run's fence
 * (a run whose lease belongs to another token, or lapsed, or that already has its terminal
 * event, takes no event), assigns seqs, XADDs with exact ids `<seq>-0`, trims by count
 * (MAXLEN ~) and age (MINID), records terminal seqs and publishes the committed events in one
 * message. Numbering, storing and publishing are one atomic step: the head a reader sees is
 * always committed, and the channel carries every committed event in seq order.
 *
 * ARGV: [1] new epoch, [2] server run id, [3] max events (0: none), [4] max age ms (0: none),
 * [5] channel, [6] number of calls, then per call its event count and per event six values:
 * run id, terminal ('1'/'0'), fence token ('' when the caller holds none), JSON without
 * position, superjson annotations ('' when none), ts.
 * Returns { epoch, per call: first seq (a number) or 'ENDED:<run>' / 'FENCED:<run>' /
 * 'EXPIRED:<run>' }.
 */
export const APPEND_LUA = `${OPEN_STREAM}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxLen, maxAge, channel = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local calls = tonumber(ARGV[6])
local out = { epoch }
local published = {}
local firstPublished = head + 1
local checked = {}
local i = 7
for c = 1, calls do
  local n = tonumber(ARGV[i])
  i = i + 1
  local refused = nil
  local ending = {}
  for e = 0, n - 1 do
    local b = i + e * 6
    local run, terminal, token = ARGV[b], ARGV[b + 1], ARGV[b + 2]
    local key = run .. '|' .. token
    if ending[run] then
      refused = 'ENDED:' .. run
    elseif not checked[key] then
      if redis.call('HEXISTS', meta, 't:' .. run) == 1 then
        refused = 'ENDED:' .. run
      else
        local fence = redis.call('HGET', meta, 'k:' .. run)
        if fence then
          local ft, fx = string.match(fence, '^(%d+)|(%d+)|')
          if ft ~= token then
            refused = 'FENCED:' .. run
          elseif tonumber(fx) < now then
            refused = 'EXPIRED:' .. run
          end
        elseif token ~= '' then
          refused = 'FENCED:' .. run
        end
      end
    end
    if refused then break end
    checked[key] = true
    if terminal == '1' then ending[run] = true end
  end
  if refused then
    out[#out + 1] = refused
  else
    out[#out + 1] = head + 1
    for e = 0, n - 1 do
      local b = i + e * 6
      head = head + 1
      local json = string.sub(ARGV[b + 3], 1, -2) .. ',"seq":' .. head .. ',"epoch":"' .. epoch .. '"}'
      if ARGV[b + 4] == '' then
        redis.call('XADD', stream, head .. '-0', 'd', json, 't', ARGV[b + 5])
      else
        redis.call('XADD', stream, head .. '-0', 'd', json, 'm', ARGV[b + 4], 't', ARGV[b + 5])
      end
      if ARGV[b + 1] == '1' then
        redis.call('HSET', meta, 't:' .. ARGV[b], head)
        redis.call('HDEL', meta, 'k:' .. ARGV[b])
      end
      published[#published + 1] = json
      published[#published + 1] = ARGV[b + 4]
    end
  end
  i = i + n * 6
end
if #published == 0 then return out end
redis.call('HSET', meta, 's', head)
if maxLen > 0 then redis.call('XTRIM', stream, 'MAXLEN', '~', maxLen) end
if maxAge > 0 then
  local cutoff = now - maxAge
  local oldest = tonumber(redis.call('HGET', meta, 'o') or '0')
  if oldest < cutoff then
    -- The hint is missing or stale: find the first event young enough, cut what is before it.
    local keep = head + 1
    local from = '-'
    while true do
      local page = redis.call('XRANGE', stream, from, '+', 'COUNT', 100)
      if #page == 0 then break end
      for _, entry in ipairs(page) do
        local fields = entry[2]
        local ts = nil
        for f = 1, #fields, 2 do
          if fields[f] == 't' then ts = tonumber(fields[f + 1]) end
        end
        if ts and ts >= cutoff then
          keep = tonumber(string.match(entry[1], '^(%d+)'))
          oldest = ts
          break
        end
      end
      if keep <= head then break end
      from = '(' .. page[#page][1]
    end
    redis.call('XTRIM', stream, 'MINID', keep .. '-0')
    if keep <= head then redis.call('HSET', meta, 'o', oldest) else redis.call('HDEL', meta, 'o') end
  end
  redis.call('PEXPIRE', meta, maxAge)
  redis.call('PEXPIRE', stream, maxAge)
end
redis.call('PUBLISH', channel, epoch .. '\\n' .. firstPublished .. '\\n' .. (#published / 2) .. '\\n' .. table.concat(published, '\\n'))
return out
`;

/**
 * The stream's position, creating the stream (a new epoch) when it does not exist yet. The
 * count limit is exact here even though `MAXLEN ~` trims whole nodes: entries below
 * `head - max + 1` are retained by Redis but no longer part of the stream.
 * ARGV: [1] new epoch, [2] server run id, [3] max events (0: none).
 * Returns { epoch, head seq, first retained seq }.
 */
export const HEAD_LUA = `${OPEN_STREAM}
local first = head + 1
if not reset then
  local f = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
  if #f > 0 then first = tonumber(string.match(f[1][1], '^(%d+)')) end
end
local maxLen = tonumber(ARGV[3])
if maxLen > 0 and head - maxLen + 1 > first then first = head - maxLen + 1 end
return { epoch, head, first }
`;

/**
 * At most `count` events from `from` on (up to `to`, a seq or '+'), never below the count
 * limit (see HEAD_LUA). KEYS[1] meta, KEYS[2] stream; ARGV: [1] from seq, [2] to, [3] count
 * (0: all), [4] max events (0: none). Returns XRANGE entries.
 */
export const READ_LUA = `
local from, to, count, maxLen = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
if maxLen > 0 then
  local head = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
  if head - maxLen + 1 > from then from = head - maxLen + 1 end
end
if to ~= '+' then
  if from > tonumber(to) then return {} end
  to = to .. '-0'
end
if count > 0 then return redis.call('XRANGE', KEYS[2], from .. '-0', to, 'COUNT', count) end
return redis.call('XRANGE', KEYS[2], from .. '-0', to)
`;
