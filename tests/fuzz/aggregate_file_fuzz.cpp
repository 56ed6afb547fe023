// Fuzzes the strict parser of the two aggregate files, of flow-names.log and of
// process-uses.log (format/parser.h), the one the collector and `rules --files` use. The input
// is the domains file, a NUL byte, the addresses file, a NUL byte, the names file, a NUL byte,
// then the process uses file. Any bytes must be
// accepted or rejected without a crash; an accepted file must be canonical (the writer the
// agent and consolidate use, format/writer.h, gives back the exact bytes) and must parse
// again to the same entries; tighter limits may reject it but never change what is accepted.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "format/parser.h"
#include "format/writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    size_t nul = in.find('\0');
    std::string_view domains = in.substr(0, nul);
    std::string_view ips = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
    size_t nul2 = ips.find('\0');
    std::string_view names =
        nul2 == std::string_view::npos ? std::string_view() : ips.substr(nul2 + 1);
    ips = ips.substr(0, nul2);
    size_t nul3 = names.find('\0');
    std::string_view uses =
        nul3 == std::string_view::npos ? std::string_view() : names.substr(nul3 + 1);
    names = names.substr(0, nul3);

    em::SnapshotLimits tight;
    tight.max_bytes = 512;
    tight.max_lines = 4;
    tight.max_line_bytes = 64;
    tight.max_reported = 2;

    auto n = em::parse_flow_names_file(names, "fuzz");
    auto nt = em::parse_flow_names_file(names, "fuzz", tight);
    if (!n.ok()) {
        if (nt.ok() || n.error().message.empty()) std::abort();
    } else {
        if (nt.ok() && !(*nt == *n)) std::abort();
        std::string text = em::render_flow_names_file(*n);
        if (text != names) std::abort();
        auto again = em::parse_flow_names_file(text, "fuzz");
        if (!again.ok() || !(*again == *n)) std::abort();
    }

    auto u = em::parse_process_uses_file(uses, "fuzz");
    auto ut = em::parse_process_uses_file(uses, "fuzz", tight);
    if (!u.ok()) {
        if (ut.ok() || u.error().message.empty()) std::abort();
    } else {
        if (ut.ok() && !(*ut == *u)) std::abort();
        std::string text = em::render_process_uses_file(*u);
        if (text != uses) std::abort();
        auto again = em::parse_process_uses_file(text, "fuzz");
        if (!again.ok() || !(*again == *u)) std::abort();
    }

    auto s = em::parse_snapshot(domains, ips, "fuzz");
    auto t = em::parse_snapshot(domains, ips, "fuzz", tight);
    if (!s.ok()) {
        if (t.ok()) std::abort();  // tighter limits cannot accept what the defaults reject
        if (s.error().message.empty()) std::abort();
        return 0;
    }
    if (t.ok() && !(*t == *s)) std::abort();

    std::string d = em::render_domains_file(s->domains);
    std::string i = em::render_ips_file(s->ips);
    if (d != domains || i != ips) std::abort();
    auto again = em::parse_snapshot(d, i, "fuzz");
    if (!again.ok() || !(*again == *s)) std::abort();
    return 0;
}
