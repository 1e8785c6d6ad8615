-- a 10-operation transaction (upserts of random keys, 100-byte values):
-- POST /v1.0/state/statestore/transaction, one durable atomic batch.
package.path = (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local path = "/v1.0/state/" .. c.store .. "/transaction"
local headers = { ["Content-Type"] = "application/json" }
local n = tonumber(os.getenv("BATCH") or "10")

request = function()
  local ops = {}
  for i = 1, n do
    ops[i] = '{"operation":"upsert","request":{"key":"' .. c.key() .. '","value":' .. c.value .. '}}'
  end
  return wrk.format("POST", path, headers, '{"operations":[' .. table.concat(ops, ",") .. ']}')
end
