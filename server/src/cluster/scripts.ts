/**
 * Lua scripts of run coordination. A run's lease lives in its thread's meta hash (field
 * `k:<runId>` = `token|expiresAtMs|owner`, the fence the append script checks), so granting,
 * renewing and taking over a lease is atomic with the appends it fences. Times are Redis's
 * (`TIME`): one clock for every instance.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Grants a lease on a run to `owner` (a new run, or a renewal of its own): refused when the
 * run has ended or another instance holds (or held) its fence.
 * KEYS[1] thread meta; ARGV run id, token, lease ms, owner. Returns { 'OK', expiresAt } |
 * { 'ENDED' } | { 'HELD', owner }.
 */
export const ACQUIRE_LUA = `${NOW}
if redis.call('HEXISTS', KEYS[1], 't:' .. ARGV[1]) == 1 then return { 'ENDED' } end
local f = redis.call('HGET', KEYS[1], 'k:' .. ARGV[1])
if f then
  local owner = string.match(f, '^%d+|%d+|(.*)$')
  if owner ~= ARGV[4] then return { 'HELD', owner } end
end
local exp = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'k:' .. ARGV[1], ARGV[2] .. '|' .. exp .. '|' .. ARGV[4])
return { 'OK', exp }
`;

/**
 * Extends a lease still held with `token` and not lapsed; a lapsed lease is never revived.
 * KEYS[1] thread meta; ARGV run id, token, lease ms. Returns { 'OK', expiresAt } | { 'LOST' }.
 */
export const RENEW_LUA = `${NOW}
local f = redis.call('HGET', KEYS[1], 'k:' .. ARGV[1])
if not f then return { 'LOST' } end
local token, exp = string.match(f, '^(%d+)|(%d+)|')
if token ~= ARGV[2] or tonumber(exp) < now then return { 'LOST' } end
local owner = string.match(f, '^%d+|%d+|(.*)$')
local nexp = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'k:' .. ARGV[1], token .. '|' .. nexp .. '|' .. owner)
return { 'OK', nexp }
`;

/** Drops a lease held with `token`. KEYS[1] thread meta; ARGV run id, token. */
export const RELEASE_LUA = `
local f = redis.call('HGET', KEYS[1], 'k:' .. ARGV[1])
if f and string.match(f, '^(%d+)|') == ARGV[2] then redis.call('HDEL', KEYS[1], 'k:' .. ARGV[1]) end
return 1
`;

/**
 * Claims leases that are due in the index (score = expiry): each claimed entry is pushed
 * `claimMs` ahead so that the other instances' sweeps skip it while this one handles it.
 * KEYS[1] lease index; ARGV claim ms, limit. Returns the claimed members (`runId threadId`).
 */
export const SWEEP_LUA = `${NOW}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), member)
end
return due
`;

/**
 * Takes over a run whose lease lapsed: a new, larger token for `claimer`, which fences the
 * old owner off for good. KEYS[1] thread meta; ARGV run id, token, lease ms, claimer.
 * Returns { 'TAKEN', previous owner, expiresAt } | { 'ALIVE', expiresAt } | { 'ENDED' }.
 */
export const TAKEOVER_LUA = `${NOW}
if redis.call('HEXISTS', KEYS[1], 't:' .. ARGV[1]) == 1 then return { 'ENDED' } end
local f = redis.call('HGET', KEYS[1], 'k:' .. ARGV[1])
local previous = ''
if f then
  local exp, owner = string.match(f, '^%d+|(%d+)|(.*)$')
  if tonumber(exp) >= now then return { 'ALIVE', tonumber(exp) } end
  previous = owner
end
local nexp = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'k:' .. ARGV[1], ARGV[2] .. '|' .. nexp .. '|' .. ARGV[4])
return { 'TAKEN', previous, nexp }
`;

/**
 * Takes a slot of a key's sorted set (members scored by expiry) unless `max` live ones are
 * taken; expired slots (a dead instance's) are dropped first.
 * KEYS[1] slot set; ARGV member, max, ttl ms. Returns 1 when taken, 0 when full.
 */
export const SLOT_ACQUIRE_LUA = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
`;

/**
 * Refreshes held slots (only those still present: a lapsed slot is not taken back past the
 * limit). KEYS[1] slot set; ARGV ttl ms, members… Returns how many were refreshed.
 */
export const SLOT_REFRESH_LUA = `${NOW}
local n = 0
for i = 2, #ARGV do
  n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return n
`;

/**
 * A token bucket per key in a hash (`v` tokens, `t` last refill, Redis ms) that expires once
 * it would be full again. KEYS[1] bucket; ARGV per second, burst, cost.
 * Returns { 1 } when taken, { 0, retryAfterMs } when refused.
 */
export const BUCKET_TAKE_LUA = `${NOW}
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'v', 't')
local tokens, at = tonumber(b[1] or burst), tonumber(b[2] or now)
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
if tokens < cost then
  return { 0, math.ceil((cost - tokens) * 1000 / rate) }
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'v', tostring(tokens), 't', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return { 1 }
`;
