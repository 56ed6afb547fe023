# The same aggregation as `egress-monitor consolidate`, in awk, as the benchmark's baseline
# and as an independent cross-check of its output (README "What is counted"). Handles the
# inputs gen_logs writes: dnsmasq log-queries=extra lines and syslog kernel LOG lines.
#
#   mawk -v dns=DNSLOG -v prefix='EGRESS: ' -v year=2026 -v dout=D -v iout=I \
#        -f baseline.awk DNSLOG KERNLOG
# Times are taken as UTC (run gen_logs' logs with TZ=UTC). Output is unsorted with a sort key
# in the first column; bench/baseline.sh sorts and strips it.
function days_from_civil(y, m, d,    era, yoe, doy, doe) {
    if (m <= 2) y -= 1
    era = int((y >= 0 ? y : y - 399) / 400)
    yoe = y - era * 400
    doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
    doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
    return era * 146097 + doe - 719468
}
function stamp_epoch(mon, day, hms,    t) {
    if (mon == c_mon && day == c_day && hms == c_hms) return c_epoch  # same second as before
    split(hms, t, ":")
    c_mon = mon; c_day = day; c_hms = hms
    c_epoch = days_from_civil(year, months[mon], day + 0) * 86400 + t[1] * 3600 + t[2] * 60 + t[3]
    return c_epoch
}
function rfc3339(mon, day, hms) {
    return sprintf("%04d-%02d-%02dT%sZ", year, months[mon], day, hms)
}
function is_v4(a) { return a ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ }
function is_v6(a) { return a ~ /^[0-9a-fA-F:]+$/ && index(a, ":") > 0 }
# Expands an IPv6 address to eight 4-digit groups (lower case).
function expand6(a,    n, i, g, parts, head, tail, out, nh, nt, missing) {
    a = tolower(a)
    n = index(a, "::")
    if (n) {
        head = substr(a, 1, n - 1); tail = substr(a, n + 2)
        nh = head == "" ? 0 : split(head, hp, ":")
        nt = tail == "" ? 0 : split(tail, tp, ":")
        missing = 8 - nh - nt
        out = ""
        for (i = 1; i <= nh; i++) out = out sprintf("%04s:", hp[i])
        for (i = 1; i <= missing; i++) out = out "0000:"
        for (i = 1; i <= nt; i++) out = out sprintf("%04s:", tp[i])
        a = substr(out, 1, length(out) - 1)
    }
    split(a, parts, ":")
    out = ""
    for (i = 1; i <= 8; i++) out = out (i > 1 ? ":" : "") sprintf("%4s", parts[i])
    gsub(/ /, "0", out)
    return out
}
# RFC 5952: leading zeros dropped, the longest run of two or more zero groups (the first on
# a tie) replaced by "::".
function compress6(a,    e, g, i, best, bestlen, run, runlen, out) {
    e = expand6(a)
    split(e, g, ":")
    best = 0; bestlen = 0; runlen = 0
    for (i = 1; i <= 8; i++) {
        sub(/^0+/, "", g[i]); if (g[i] == "") g[i] = "0"
        if (g[i] == "0") { if (runlen == 0) run = i; runlen++; if (runlen > bestlen) { best = run; bestlen = runlen } }
        else runlen = 0
    }
    if (bestlen < 2) best = 0
    out = ""
    for (i = 1; i <= 8; i++) {
        if (best && i == best) { out = out "::"; i += bestlen - 1; continue }
        if (out != "" && substr(out, length(out)) != ":") out = out ":"
        out = out g[i]
    }
    return out
}
function ipkey(a,    p) {
    if (is_v4(a)) { split(a, p, "."); return sprintf("4%03d%03d%03d%03d", p[1], p[2], p[3], p[4]) }
    return "6" expand6(a)
}
function excluded(a) {  # loopback and unspecified
    if (is_v4(a)) return a ~ /^127\./ || a == "0.0.0.0"
    a = compress6(a)
    return a == "::1" || a == "::" || a ~ /^::ffff:127\./
}
BEGIN {
    split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", mn, " ")
    for (i = 1; i <= 12; i++) months[mn[i]] = i
    plen = length(prefix)
}
FILENAME == dns {
    # Mon DD HH:MM:SS dnsmasq[PID]: SERIAL CLIENT/PORT KIND NAME ...
    if ($4 !~ /^dnsmasq\[[0-9]+\]:$/) next
    key = $4 " " $5
    kind = $7
    if (kind ~ /^query\[/) {
        name = tolower($8); sub(/\.$/, "", name)
        count[name]++
        t = stamp_epoch($1, $2, $3)
        if (!(name in last) || t > last[name]) { last[name] = t; lasts[name] = rfc3339($1, $2, $3) }
        q[key] = name
        next
    }
    if (kind != "reply" && kind != "cached" && kind != "config" && kind != "cached-stale" && kind !~ /^\//) next
    if ($9 != "is" || NF != 10) next
    ans = $10
    if (index(ans, ":")) {
        if (!is_v6(ans)) next
        ans = compress6(ans)
        if (ans == "::1" || ans == "::" || ans ~ /^::ffff:127\./) next
    } else {
        if (!is_v4(ans) || substr(ans, 1, 4) == "127." || ans == "0.0.0.0") next
    }
    name = (key in q) ? q[key] : tolower($8)
    if (!((name, ans) in seen)) { seen[name, ans] = 1; ips[name] = ips[name] " " ans }
    next
}
{
    # Mon DD HH:MM:SS HOST kernel: [UPTIME] PREFIX IN=... SRC= DST= ...  ($0 only: mawk
    # then never splits the ~27 fields of a kernel line)
    k = index($0, " kernel: ")
    if (!k) next
    start = k + 9
    if (substr($0, start, 1) == "[") start += index(substr($0, start), "] ") + 1
    if (substr($0, start, plen) != prefix) next
    p = index($0, " DST=")
    if (!p) next
    dst = substr($0, p + 5)
    dst = substr(dst, 1, index(dst, " ") - 1)
    if (index(dst, ":")) {
        dst = compress6(dst)
        if (dst == "::1" || dst ~ /^::ffff:127\./) next
    } else if (substr(dst, 1, 4) == "127.") next
    flows[dst]++
    stamp = substr($0, 1, 15)
    t = stamp_epoch(substr(stamp, 1, 3), substr(stamp, 5, 2), substr(stamp, 8, 8))
    if (!(dst in flast) || t > flast[dst]) { flast[dst] = t; flasts[dst] = rfc3339(substr(stamp, 1, 3), substr(stamp, 5, 2), substr(stamp, 8, 8)) }
}
END {
    for (name in count) {
        n = split(substr(ips[name], 2), list, " ")
        # insertion sort by numeric key
        for (i = 2; i <= n; i++) { v = list[i]; k = ipkey(v); j = i - 1
            while (j >= 1 && ipkey(list[j]) > k) { list[j + 1] = list[j]; j-- }
            list[j + 1] = v }
        out = ""
        for (i = 1; i <= n; i++) out = out (i > 1 ? "," : "") list[i]
        print name, count[name], lasts[name], (n ? out : "-") > dout
    }
    for (dst in flows) print ipkey(dst), dst, flows[dst], flasts[dst] > iout
}
