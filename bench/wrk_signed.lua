-- wrk: POST pre-signed Ghost deliveries, each request a distinct article.
-- wrk ... -s bench/wrk_signed.lua URL -- REQUESTS_FILE THREADS
-- REQUESTS_FILE: one "signature<TAB>body" per line (bench_ingest.py writes it just before the run, so
-- the signatures' timestamps are fresh). Thread k sends lines k, k+THREADS, ...: no article is sent
-- twice until the file runs out (then repeats are answered 200; bench_ingest.py counts the 202s).
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  -- keep only this thread's share of the lines (k, k + THREADS, ...)
  lines = {}
  local step = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    if n % step == id then
      lines[#lines + 1] = line
    end
    n = n + 1
  end
  index = 1
end

function request()
  local line = lines[index]
  index = index % #lines + 1
  local tab = line:find("\t", 1, true)
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["X-Ghost-Signature"] = line:sub(1, tab - 1)
  return wrk.format("POST", "/hooks/ghost", headers, line:sub(tab + 1))
end
