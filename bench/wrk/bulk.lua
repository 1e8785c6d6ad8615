-- bulk get of 100 random keys: POST /v1.0/state/statestore/bulk
package.path = (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local path = "/v1.0/state/" .. c.store .. "/bulk"
local headers = { ["Content-Type"] = "application/json" }
local n = tonumber(os.getenv("BATCH") or "100")

request = function()
  local ks = {}
  for i = 1, n do ks[i] = '"' .. c.key() .. '"' end
  return wrk.format("POST", path, headers, '{"keys":[' .. table.concat(ks, ",") .. ']}')
end
