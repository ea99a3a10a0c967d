-- Each request carries one of the bearer tokens in BENCH_TOKENS (a file, one per
-- line), chosen at random: a crowd of users identified by a verified JWT.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = "Bearer " .. line end
math.randomseed(7)
request = function()
  return wrk.format(nil, nil, { ["authorization"] = tokens[math.random(#tokens)] })
end
