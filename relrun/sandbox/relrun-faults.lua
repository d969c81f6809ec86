-- relrun's traffic faults for HAProxy (see docs/haproxy.md, "Traffic faults").
--
-- The backend's rules look up "backend/server" in relrun-faults.map after the server
-- answered and leave the entry in txn.relrun_fault as "error:status:latency_ms:abort".
-- relrun_fault delays the response and decides whether this request fails; the config
-- then counts the hit (gpc0) and the delay (gpc1) in the relrun_faults stick table, and
-- relrun_reply answers a hit:
-- the status with X-Fault: injected, or the connection closed without an answer.

core.register_action("relrun_fault", { "http-res" }, function(txn)
    local spec = txn:get_var("txn.relrun_fault")
    if spec == nil then
        return
    end
    local err, status, latency, abort = string.match(spec, "^([%d.]+):(%d+):(%d+):([%d.]+)$")
    if err == nil then
        return
    end
    latency = tonumber(latency)
    if latency > 0 then
        core.msleep(latency)
        txn:set_var("txn.relrun_delayed", 1)
    end
    if math.random() < tonumber(abort) then
        txn:set_var("txn.relrun_hit", "abort")
    elseif math.random() < tonumber(err) then
        txn:set_var("txn.relrun_hit", status)
    end
end)

core.register_action("relrun_reply", { "http-res" }, function(txn)
    local hit = txn:get_var("txn.relrun_hit")
    if hit == "abort" then
        txn:done()
        return
    end
    local reply = txn:reply({
        status = tonumber(hit),
        headers = { ["x-fault"] = { "injected" }, ["content-type"] = { "application/json" } },
        body = '{"error": "injected fault"}',
    })
    txn:done(reply)
end)
