package redis

import goredis "github.com/redis/go-redis/v9"

// Result codes of applyScript (one triple per failed condition).
const (
	codeNotFound   = 1 // ETag given, key absent or expired
	codeMismatch   = 2 // ETag differs from "version"
	codeFirstWrite = 3 // first-write without ETag on a live key
	codeBadVersion = 4 // the hash's version field is not an integer
)

// Op kinds and first-write flags as passed to applyScript.
const (
	argSet    = "s"
	argDelete = "d"

	fwNone  = "0" // no first-write check
	fwCheck = "1" // check: key must not exist (transactions)
	fwField = "2" // check and add the "first-write" field (single saves)
)

// argsPerOp is the number of ARGV entries per key in applyScript.
const argsPerOp = 5

// applyScript checks the conditions of every operation against the state
// before the call, and only if all hold applies them in order (Invariant 1).
//
// KEYS[i] is the key of operation i; ARGV holds argsPerOp entries per
// operation: kind (s|d), etag ("" = none; decimal), first-write flag
// (0|1|2), ttl seconds (integer; > 0 EXPIRE, else PERSIST), data.
//
// Returns 0 on success, else a flat array {i, code, current, ...} listing
// every failed condition (1-based operation index, code*, current version).
// Everything that could make a write command fail (a non-integer version
// for HINCRBY) is checked before the first write: Redis does not roll back
// a script that fails half-way.
var applyScript = goredis.NewScript(applySource)

const applySource = `
local fails = {}
local types = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local b = (i - 1) * 5
  local etag, fw = ARGV[b + 2], ARGV[b + 3]
  local typ = redis.call('TYPE', k)['ok']
  types[i] = typ
  local cur = false
  if typ == 'hash' and (etag ~= '' or ARGV[b + 1] == 's') then
    cur = redis.call('HGET', k, 'version')
  end
  if etag ~= '' then
    if typ == 'none' then
      fails[#fails + 1] = i; fails[#fails + 1] = 1; fails[#fails + 1] = ''
    elseif (cur or '') ~= etag then
      fails[#fails + 1] = i; fails[#fails + 1] = 2; fails[#fails + 1] = cur or ''
    end
  elseif fw ~= '0' and typ ~= 'none' then
    fails[#fails + 1] = i; fails[#fails + 1] = 3; fails[#fails + 1] = ''
  end
  if ARGV[b + 1] == 's' and cur and not string.match(cur, '^%-?%d+$') then
    fails[#fails + 1] = i; fails[#fails + 1] = 4; fails[#fails + 1] = cur
  end
end
if #fails > 0 then return fails end
for i = 1, #KEYS do
  local k = KEYS[i]
  local b = (i - 1) * 5
  if ARGV[b + 1] == 'd' then
    redis.call('DEL', k)
  else
    if types[i] ~= 'hash' and types[i] ~= 'none' then
      local typ = redis.call('TYPE', k)['ok']
      if typ ~= 'hash' and typ ~= 'none' then redis.call('DEL', k) end
    end
    if ARGV[b + 3] == '2' then
      redis.call('HSET', k, 'data', ARGV[b + 5], 'first-write', '0')
    else
      redis.call('HSET', k, 'data', ARGV[b + 5])
    end
    redis.call('HINCRBY', k, 'version', 1)
    local ttl = tonumber(ARGV[b + 4])
    if ttl > 0 then redis.call('EXPIRE', k, ttl) else redis.call('PERSIST', k) end
  end
end
return 0
`

// Kinds returned by getScript.
const (
	getMissing = 0 // no such key
	getHash    = 1 // {1, data, version, expiry}
	getString  = 2 // legacy string value: {2, data, '', expiry}
	getBroken  = 3 // hash without data or version
)

// getScript reads one key in one round trip: the hash fields, or the string
// value of a legacy key, and the absolute expiry in Unix milliseconds (-1:
// none). PEXPIRETIME (Redis >= 7) makes the expiry identical on every read;
// older servers fall back to TIME + PTTL.
var getScript = goredis.NewScript(`
local k = KEYS[1]
local typ = redis.call('TYPE', k)['ok']
if typ == 'none' then return {0} end
local ok, exp = pcall(redis.call, 'PEXPIRETIME', k)
if not ok then
  exp = redis.call('PTTL', k)
  if exp > 0 then
    local now = redis.call('TIME')
    exp = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + exp
  end
end
if typ == 'string' then return {2, redis.call('GET', k), '', exp} end
local r = redis.call('HMGET', k, 'data', 'version')
if not r[1] or not r[2] then return {3} end
return {1, r[1], r[2], exp}
`)

// ApplyScriptSource returns the Lua source of the script every write runs
// (ARGV per key: kind "s"|"d", etag, first-write flag, ttl seconds, data;
// a plain save is "s", "", "0", "0", value), so that a load tool can time
// the raw Redis round trip of the same work (bench, Config.RedisSave).
func ApplyScriptSource() string { return applySource }
