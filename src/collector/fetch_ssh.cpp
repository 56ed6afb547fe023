// The ssh transport: one ssh session per attempt runs a small POSIX sh script on the host
// that prints both files, each preceded by its size, so a fetch costs one key exchange (two
// ssh runs per attempt, one per file, did not fit a 2 s timeout beside a busy CPU).
#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "collector/fetch_internal.h"
#include "common/process.h"

namespace em::fetch_detail {

namespace {

// The remote side: plain sh, cat and wc, nothing to install. $1 the directory, $2 the most
// bytes a file may have. Output:
//   EMFETCH1\n
//   F <size> unique-domains.log\n <size bytes>    (the content only when size <= $2)
//   F <size> unique-ips.log\n <size bytes>
//   F <size> flow-names.log\n <size bytes>       (the content only when size <= $2)
//     or A flow-names.log\n                      (absent or unreadable: no names)
//   F <size> process-uses.log\n <size bytes>     (likewise)
//     or A process-uses.log\n
//   EMFETCH-END\n
// Each file is opened once (fd 3): its size is taken through /dev/fd/3, a new open file
// description of the same inode, so the content that follows is what was measured even when
// the agent renames a new file into place meanwhile. A file written in place while it was
// read (its size after cat is not the announced one) ends the script with exit status 75,
// retried. A file that cannot be read is reported by cat itself ("cat: PATH: No such file or
// directory") with exit status 1. flow-names.log and process-uses.log are optional (fetch.h):
// when one is not there (or not readable) the script says so and goes on; when it is larger
// than $2 the script announces its size without the content and goes on (that file is
// dropped, the two files stand).
constexpr std::string_view kRemoteScript =
    "d=$1; max=$2; printf 'EMFETCH1\\n'; "
    "for f in unique-domains.log unique-ips.log; do "
    "p=$d/$f; "
    "if [ ! -r \"$p\" ] || [ -d \"$p\" ]; then cat -- \"$p\" >/dev/null; exit 1; fi; "
    "exec 3<\"$p\" || exit 1; "
    "n=$(wc -c </dev/fd/3) || exit 1; "
    "printf 'F %s %s\\n' $n \"$f\"; "
    "[ \"$n\" -gt \"$max\" ] && exit 0; "
    "cat <&3 || exit 1; "
    "m=$(wc -c </dev/fd/3) || exit 1; "
    "if [ $m -ne $n ]; then echo \"$p changed while it was read\" >&2; exit 75; fi; "
    "exec 3<&-; "
    "done; "
    "for f in flow-names.log process-uses.log; do "
    "p=$d/$f; "
    "if [ -r \"$p\" ] && [ ! -d \"$p\" ]; then "
    "exec 3<\"$p\" || exit 1; "
    "n=$(wc -c </dev/fd/3) || exit 1; "
    "printf 'F %s %s\\n' $n \"$f\"; "
    "if [ \"$n\" -le \"$max\" ]; then "
    "cat <&3 || exit 1; "
    "m=$(wc -c </dev/fd/3) || exit 1; "
    "if [ $m -ne $n ]; then echo \"$p changed while it was read\" >&2; exit 75; fi; "
    "fi; "
    "exec 3<&-; "
    "else printf 'A %s\\n' \"$f\"; fi; "
    "done; "
    "printf 'EMFETCH-END\\n'";

constexpr int kChangedWhileRead = 75;  // the script's exit status (EX_TEMPFAIL)
constexpr std::string_view kMagic = "EMFETCH1\n";
constexpr std::string_view kEnd = "EMFETCH-END\n";

std::string shell_quote(std::string_view s) {
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

}  // namespace

Outcome parse_framing(std::string_view out, size_t max_bytes, std::string& domains,
                      std::string& ips, FetchedNames* names, FetchedNames* uses) {
    auto bad = [&](std::string_view why) {
        // Not the script's output (a login banner on stdout, a shell startup file printing,
        // a host that lies): the same answer would come back, so not retried.
        return fail(fmt::format("unexpected output from the remote command ({}): {}", why,
                                one_line(out.substr(0, 80), 80)));
    };
    if (out.substr(0, kMagic.size()) != kMagic) return bad("no header");
    out.remove_prefix(kMagic.size());
    for (auto [file, body] : {std::pair{kDomainsFile, &domains}, std::pair{kIpsFile, &ips}}) {
        size_t nl = out.find('\n');
        if (nl > 300) return bad("no size line");  // npos too: no line at all
        std::string_view line = out.substr(0, nl);
        std::string want_tail = " " + std::string(file);
        if (line.substr(0, 2) != "F " || line.size() < want_tail.size() + 3 ||
            line.substr(line.size() - want_tail.size()) != want_tail)
            return bad(fmt::format("no size line for {}", file));
        std::string_view num = line.substr(2, line.size() - 2 - want_tail.size());
        uint64_t size = 0;
        auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), size);
        if (ec != std::errc() || p != num.data() + num.size())
            return bad(fmt::format("bad size for {}", file));
        // The oversized check is on the size the host announces, before its content.
        if (size > max_bytes)
            return fail(fmt::format("oversized: {} larger than {} bytes", file, max_bytes));
        out.remove_prefix(nl + 1);
        if (out.size() < size) return bad(fmt::format("{} shorter than announced", file));
        body->assign(out.substr(0, size));
        out.remove_prefix(size);
    }
    // The optional files, in order: "A" (absent), or its size and, within max_bytes, its
    // content. Output without such a part (the script of an earlier version) is "none".
    FetchedNames got[2];
    const char* optional[2] = {kFlowNamesFile, kProcessUsesFile};
    for (size_t k = 0; k < 2; ++k) {
        const std::string absent = std::string("A ") + optional[k] + "\n";
        const std::string tail = std::string(" ") + optional[k];
        if (out.substr(0, absent.size()) == absent) {
            out.remove_prefix(absent.size());
            continue;
        }
        if (out.substr(0, 2) != "F ") continue;
        size_t nl = out.find('\n');
        if (nl > 300) return bad("no size line");
        std::string_view line = out.substr(0, nl);
        if (line.size() < tail.size() + 3 || line.substr(line.size() - tail.size()) != tail) {
            // An earlier script may have stopped after flow-names.log; anything else is not
            // the framing.
            if (k == 0) continue;
            return bad(fmt::format("no size line for {}", optional[k]));
        }
        std::string_view num = line.substr(2, line.size() - 2 - tail.size());
        uint64_t size = 0;
        auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), size);
        if (ec != std::errc() || p != num.data() + num.size())
            return bad(fmt::format("bad size for {}", optional[k]));
        out.remove_prefix(nl + 1);
        if (size > max_bytes) {  // announced without its content
            got[k].error =
                fmt::format("oversized: {} larger than {} bytes", optional[k], max_bytes);
        } else {
            if (out.size() < size)
                return bad(fmt::format("{} shorter than announced", optional[k]));
            got[k].present = true;
            got[k].text.assign(out.substr(0, size));
            out.remove_prefix(size);
        }
    }
    if (out != kEnd) return bad("no end mark");
    if (names) *names = std::move(got[0]);
    if (uses) *uses = std::move(got[1]);
    return {};
}

std::string ssh_remote_command(const std::string& dir, size_t max_bytes) {
    // The user's shell runs this: the script goes to sh as one quoted word, the directory
    // and the limit as its arguments (sh's arithmetic is 64-bit signed at best).
    return "sh -c " + shell_quote(kRemoteScript) + " emfetch " + shell_quote(dir) + " " +
           std::to_string(std::min<uint64_t>(max_bytes, uint64_t{1} << 53));
}

Outcome ssh_attempt(const HostSpec& h, const FetchOptions& opt, Clock::time_point deadline,
                    FetchResult& out) {
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
    argv.push_back(ssh_remote_command(h.remote_dir, opt.max_bytes));

    CommandLimits limits;
    limits.timeout_ms = static_cast<int>(std::min<int64_t>(left, INT32_MAX));
    // The four files at their largest and the framing; the remote side stops at an announced
    // size beyond max_bytes, this bounds a remote side that does not.
    const size_t framing = 1024;
    limits.max_stdout = opt.max_bytes > (std::numeric_limits<size_t>::max() - framing) / 4
                            ? std::numeric_limits<size_t>::max()
                            : 4 * opt.max_bytes + framing;
    auto run = run_command_bounded(argv, limits);
    if (!run) return fail(run.error().message);
    auto& r = *run;
    std::string err = one_line(r.err, 300);
    if (r.oversized)
        return fail(fmt::format("oversized: the remote command printed more than {} bytes",
                                limits.max_stdout));
    if (r.timed_out) return retry("timed out");
    if (r.exit_status == 0)
        return parse_framing(r.out, opt.max_bytes, out.domains, out.ips, &out.names, &out.uses);
    if (r.exit_status == 255) {
        // ssh says what went wrong last, after warnings and banners.
        std::string why = "ssh: " + (err.empty() ? std::string("connection failed")
                                                 : one_line(last_line(r.err), 300));
        if (r.err.find("REMOTE HOST IDENTIFICATION HAS CHANGED") != std::string::npos)
            why += " (the host key differs from the known_hosts entry)";
        return permanent_ssh_failure(r.err) ? fail(why) : retry(why);
    }
    if (r.exit_status < 0) return retry(fmt::format("ssh killed by signal {}", r.term_signal));
    if (r.exit_status == kChangedWhileRead)  // the script's own status: worth another try
        return retry(fmt::format("remote error (exit status {}): {}", r.exit_status, err));
    return fail(fmt::format("remote error (exit status {}){}{}", r.exit_status,
                            err.empty() ? "" : ": ", err));
}

}  // namespace em::fetch_detail
