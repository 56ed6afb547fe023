// The collector's inventory: which hosts to fetch from and how (TOML, see fetch.h).
#include <fmt/core.h>

#include <charconv>
#include <map>
#include <unordered_map>

#include "collector/fetch.h"
#include "common/files.h"
#include "common/ip_address.h"
#include "common/toml/toml_section.h"

namespace em {

namespace {

std::string where(const std::string& path, const toml::node& n) { return toml_where(path, n); }

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

struct KeyInfo {
    Transport transport;
};

const std::unordered_map<std::string, KeyInfo>& known_keys() {
    static const std::unordered_map<std::string, KeyInfo> keys = {
        {"name", {Transport::either}},
        {"tags", {Transport::either}},
        {"url", {Transport::url}},
        {"token_file", {Transport::url}},
        {"ca_file", {Transport::url}},
        {"insecure_http", {Transport::url}},
        {"ssh", {Transport::ssh}},
        {"ssh_port", {Transport::ssh}},
        {"ssh_key", {Transport::ssh}},
        {"remote_dir", {Transport::ssh}},
        {"ssh_known_hosts", {Transport::ssh}},
    };
    return keys;
}

Result<HostSpec> parse_host(const toml::table& t, const std::string& path) {
    HostSpec h;
    const std::string at = where(path, t);
    TomlSection s(&t, "host", path);
    constexpr bool kNonEmpty = true;
    s.text("name", h.name, kNonEmpty);
    if (const toml::node* n = s.node("name"); n && s.ok() && !valid_name(h.name))
        s.fail(Error{where(path, *n) + ": host.name '" + h.name +
                     "': want 1 to 253 of [A-Za-z0-9._-]"});
    s.text("url", h.url, kNonEmpty).text("ssh", h.ssh, kNonEmpty);
    if (const toml::node* n = s.node("ssh"); n && s.ok() && !valid_ssh_target(h.ssh))
        s.fail(Error{where(path, *n) + ": host.ssh '" + h.ssh +
                     "': want [user@]host without spaces, not starting with '-'"});
    s.text("token_file", h.token_file, kNonEmpty)
        .text("ca_file", h.ca_file, kNonEmpty)
        .text("ssh_key", h.ssh_key, kNonEmpty)
        .text("ssh_known_hosts", h.ssh_known_hosts, kNonEmpty)
        .text("remote_dir", h.remote_dir, kNonEmpty);
    if (const toml::node* n = s.node("remote_dir"); n && s.ok()) {
        if (h.remote_dir.front() != '/')
            s.fail(Error{where(path, *n) + ": host.remote_dir must be an absolute path"});
        while (h.remote_dir.size() > 1 && h.remote_dir.back() == '/') h.remote_dir.pop_back();
    }
    s.integer("ssh_port", h.ssh_port, 1, 65535)
        .boolean("insecure_http", h.insecure_http)
        .strings("tags", h.tags);
    if (auto r = s.finish(); !r) return r.error();
    // Which keys were given, for the checks across keys (line of each for the messages).
    std::map<std::string, const toml::node*> seen;
    for (const auto& [key, info] : known_keys())
        if (const toml::node* n = t.get(key)) seen[key] = n;

    if (h.name.empty()) return Error{at + ": host without a name"};
    const std::string who = "host '" + h.name + "'";
    if (h.url.empty() && h.ssh.empty()) return Error{at + ": " + who + " needs url or ssh"};
    if (!h.url.empty() && !h.ssh.empty())
        return Error{where(path, *seen["ssh"]) + ": " + who + " has both url and ssh; pick one"};
    const Transport transport = h.url.empty() ? Transport::ssh : Transport::url;
    for (const auto& [key, node] : seen) {
        Transport need = known_keys().at(key).transport;
        if (need != Transport::either && need != transport)
            return Error{fmt::format("{}: {}: {} applies to {} hosts only", where(path, *node), who,
                                     key, need == Transport::url ? "url" : "ssh")};
    }
    if (transport == Transport::url) {
        auto u = parse_host_url(h.url);
        if (!u) return Error{where(path, *seen["url"]) + ": " + who + ": " + u.error().message};
        if (u->scheme == "http" && !h.insecure_http)
            return Error{where(path, *seen["url"]) + ": " + who +
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
    const toml::table& t = *doc;
    std::vector<HostSpec> hosts;
    std::map<std::string, uint32_t> lines;  // name → line, for duplicates
    for (auto&& entry : t) {
        const std::string key(entry.first.str());
        const toml::node& node = entry.second;
        if (key != "host") return Error{where(path, node) + ": unknown key " + key};
        const auto* arr = node.as_array();
        if (!arr || !arr->is_array_of_tables())
            return Error{where(path, node) + ": host must be an array of tables ([[host]])"};
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
    auto text = read_file_limited(
        path, 1 << 20, {"cannot read inventory " + path, path + ": inventory larger than 1 MiB"});
    if (!text) return text.error();
    return parse_inventory(*text, path);
}

}  // namespace em
