-- Each request comes from one of BENCH_USERS users (x-user-id), chosen at random, so
-- flag decisions are made for a crowd of cohort members rather than one.
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
math.randomseed(7)
request = function()
  return wrk.format(nil, nil, { ["x-user-id"] = "user-" .. math.random(users) })
end
