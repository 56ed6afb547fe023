// The collector's inventory: which hosts to fetch from and how (TOML, see fetch.h).
#include <fmt/core.h>

#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "collector/fetch.h"
#include "common/files.h"
#include "common/ip_address.h"
#include "common/toml_section.h"

namespace em {

namespace {

constexpr size_t kMaxInventoryBytes = size_t{1} << 20;

bool is_host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 253 || s == "." || s == "..") return false;
    for (char c : s)
        if (!is_host_char(c)) return false;
    return true;
}

// An ssh destination is passed to ssh as one argument: it must not look like an option, and
// white space or control characters are surely mistakes.
bool valid_ssh_target(std::string_view s) {
    if (s.empty() || s.front() == '-') return false;
    for (char c : s)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
    return true;
}

enum class Transport { either, url, ssh };

// The keys that apply to one transport only (the others are for both).
const std::vector<std::pair<std::string_view, Transport>>& transport_of_keys() {
    static const std::vector<std::pair<std::string_view, Transport>> keys = {
        {"url", Transport::url},
        {"token_file", Transport::url},
        {"ca_file", Transport::url},
        {"insecure_http", Transport::url},
        {"ssh", Transport::ssh},
        {"ssh_port", Transport::ssh},
        {"ssh_key", Transport::ssh},
        {"remote_dir", Transport::ssh},
        {"ssh_known_hosts", Transport::ssh},
    };
    return keys;
}

Result<HostSpec> parse_host(const toml::table& t, const std::string& path) {
    HostSpec h;
    TomlSection s(&t, "host", path);
    using Empty = TomlSection::Empty;
    if (s.text("name", h.name, Empty::refused) && !h.name.empty() && !valid_name(h.name))
        s.fail("name", "'" + h.name + "': want 1 to 253 of [A-Za-z0-9._-]");
    s.strings("tags", h.tags);
    s.text("url", h.url, Empty::refused);
    s.text("token_file", h.token_file, Empty::refused);
    s.text("ca_file", h.ca_file, Empty::refused);
    s.boolean("insecure_http", h.insecure_http);
    if (s.text("ssh", h.ssh, Empty::refused) && !h.ssh.empty() && !valid_ssh_target(h.ssh))
        s.fail("ssh", "'" + h.ssh + "': want [user@]host without spaces, not starting with '-'");
    s.integer("ssh_port", h.ssh_port, 1, 65535);
    s.text("ssh_key", h.ssh_key, Empty::refused);
    if (s.text("remote_dir", h.remote_dir, Empty::refused) && s.find("remote_dir")) {
        if (h.remote_dir.front() != '/') s.fail("remote_dir", "must be an absolute path");
        while (h.remote_dir.size() > 1 && h.remote_dir.back() == '/') h.remote_dir.pop_back();
    }
    s.text("ssh_known_hosts", h.ssh_known_hosts, Empty::refused);
    if (auto r = s.finish(); !r) return r.error();

    const std::string at = s.where();
    if (h.name.empty()) return Error{at + ": host without a name"};
    const std::string who = "host '" + h.name + "'";
    if (h.url.empty() && h.ssh.empty()) return Error{at + ": " + who + " needs url or ssh"};
    if (!h.url.empty() && !h.ssh.empty())
        return Error{s.where(*s.find("ssh")) + ": " + who + " has both url and ssh; pick one"};
    const Transport transport = h.url.empty() ? Transport::ssh : Transport::url;
    for (const auto& [key, need] : transport_of_keys()) {
        const toml::node* n = s.find(key);
        if (n && need != Transport::either && need != transport)
            return Error{fmt::format("{}: {}: {} applies to {} hosts only", s.where(*n), who, key,
                                     need == Transport::url ? "url" : "ssh")};
    }
    if (transport == Transport::url) {
        const std::string url_at = s.where(*s.find("url"));
        auto u = parse_host_url(h.url);
        if (!u) return Error{url_at + ": " + who + ": " + u.error().message};
        if (u->scheme == "http" && !h.insecure_http)
            return Error{url_at + ": " + who +
                         ": plain http:// needs insecure_http = true (the token and the files "
                         "travel unencrypted); prefer https://"};
        if (h.token_file.empty()) return Error{at + ": " + who + ": url hosts need token_file"};
    }
    return h;
}

}  // namespace

Result<HostUrl> parse_host_url(const std::string& url) { return parse_http_url(url, "url"); }

Result<std::vector<HostSpec>> parse_inventory(std::string_view text, const std::string& path) {
    auto doc = parse_toml(text, path);
    if (!doc) return doc.error();
    TomlSection top(&*doc, "", path);
    const toml::node* node = top.node("host");
    if (auto r = top.finish(); !r) return r.error();
    std::vector<HostSpec> hosts;
    std::map<std::string, uint32_t> lines;  // name → line, for duplicates
    if (node) {
        const auto* arr = node->as_array();
        if (!arr || !arr->is_array_of_tables())
            return Error{top.where(*node) + ": host must be an array of tables ([[host]])"};
        for (const auto& el : *arr) {
            auto h = parse_host(*el.as_table(), path);
            if (!h) return h.error();
            uint32_t line = el.source().begin.line;
            auto [it, fresh] = lines.emplace(h->name, line);
            if (!fresh)
                return Error{fmt::format("{}:{}: duplicate host name '{}' (first at line {})", path,
                                         line, h->name, it->second)};
            hosts.push_back(std::move(h).value());
        }
    }
    if (hosts.empty()) return Error{path + ": no [[host]] in the inventory"};
    return hosts;
}

Result<std::vector<HostSpec>> load_inventory(const std::string& path) {
    auto text = read_file_limited(path, kMaxInventoryBytes, "inventory");
    if (!text) return text.error();
    return parse_inventory(*text, path);
}

}  // namespace em
