// The ssh transport: `cat` of each file through the system's ssh.
#include <fmt/core.h>

#include <algorithm>

#include "collector/fetch_internal.h"
#include "common/process.h"

namespace em::fetch_detail {

namespace {

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

std::string_view last_line(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
        text.remove_suffix(1);
    size_t nl = text.rfind('\n');
    return nl == std::string_view::npos ? text : text.substr(nl + 1);
}

// ssh's exit status 255 covers both "could not connect" (worth retrying) and refusals that
// will not change on their own.
bool permanent_ssh_failure(std::string_view err) {
    for (std::string_view s :
         {"Permission denied", "Host key verification failed", "No matching host key",
          "REMOTE HOST IDENTIFICATION HAS CHANGED", "Could not resolve hostname",
          "Bad configuration option", "no such identity"})
        if (err.find(s) != std::string_view::npos) return true;
    return false;
}

Outcome ssh_cat(const HostSpec& h, const FetchOptions& opt, std::string_view file,
                Clock::time_point deadline, std::string& body) {
    int64_t left = ms_left(deadline);
    if (left <= 0) return retry("timed out");
    std::vector<std::string> argv = {"ssh",
                                     "-o",
                                     "BatchMode=yes",
                                     "-o",
                                     "ConnectTimeout=" + std::to_string((left + 999) / 1000),
                                     "-o",
                                     "StrictHostKeyChecking=yes"};
    if (!h.ssh_known_hosts.empty())
        argv.insert(argv.end(), {"-o", "UserKnownHostsFile=" + h.ssh_known_hosts});
    if (h.ssh_port != 22) argv.insert(argv.end(), {"-p", std::to_string(h.ssh_port)});
    if (!h.ssh_key.empty()) argv.insert(argv.end(), {"-o", "IdentitiesOnly=yes", "-i", h.ssh_key});
    argv.push_back(h.ssh);
    // The remote side runs this through the user's shell.
    argv.push_back("cat -- " + shell_quote(h.remote_dir + "/" + std::string(file)));

    CommandLimits limits;
    limits.timeout_ms = static_cast<int>(std::min<int64_t>(left, INT32_MAX));
    limits.max_stdout = opt.max_bytes;
    auto run = run_command_bounded(argv, limits);
    if (!run) return fail(run.error().message);
    auto& r = *run;
    std::string err = one_line(r.err, 300);
    if (r.oversized)
        return fail(fmt::format("oversized: {} larger than {} bytes", file, opt.max_bytes));
    if (r.timed_out) return retry("timed out");
    if (r.exit_status == 0) {
        body = std::move(r.out);
        return {};
    }
    if (r.exit_status == 255) {
        // ssh says what went wrong last, after warnings and banners.
        std::string why = "ssh: " + (err.empty() ? std::string("connection failed")
                                                 : one_line(last_line(r.err), 300));
        if (r.err.find("REMOTE HOST IDENTIFICATION HAS CHANGED") != std::string::npos)
            why += " (the host key differs from the known_hosts entry)";
        return permanent_ssh_failure(r.err) ? fail(why) : retry(why);
    }
    if (r.exit_status < 0) return retry(fmt::format("ssh killed by signal {}", r.term_signal));
    return fail(fmt::format("remote error (exit status {}){}{}", r.exit_status,
                            err.empty() ? "" : ": ", err));
}

}  // namespace

Outcome ssh_attempt(const HostSpec& h, const FetchOptions& opt, Clock::time_point deadline,
                    FetchResult& out) {
    std::string d, i;
    if (auto o = ssh_cat(h, opt, kDomainsFile, deadline, d); o.verdict != Verdict::ok) return o;
    if (auto o = ssh_cat(h, opt, kIpsFile, deadline, i); o.verdict != Verdict::ok) return o;
    out.domains = std::move(d);
    out.ips = std::move(i);
    return {};
}

}  // namespace em::fetch_detail
