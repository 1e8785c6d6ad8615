-- GET /v1.0/state/statestore/{random key of 10,000}
package.path = (os.getenv("WRK_DIR") or "bench/wrk") .. "/?.lua;" .. package.path
local c = require("common")
local prefix = "/v1.0/state/" .. c.store .. "/"

request = function()
  return wrk.format("GET", prefix .. c.key())
end
