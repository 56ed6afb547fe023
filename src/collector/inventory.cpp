// The collector's inventory: which hosts to fetch from and how (TOML, see fetch.h).
#include <fmt/core.h>

#include <toml++/toml.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <unordered_map>

#include "collector/fetch.h"
#include "common/ip_address.h"

namespace em {

namespace {

std::string where(const std::string& path, const toml::node& n) {
    return fmt::format("{}:{}", path, n.source().begin.line);
}

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
    // Which keys were given, for the checks across keys (line of each for the messages).
    std::map<std::string, const toml::node*> seen;
    for (auto&& entry : t) {
        // clang 14 cannot capture structured bindings in lambdas.
        const std::string key(entry.first.str());
        const toml::node& node = entry.second;
        auto text = [&](std::string& out) -> Result<void> {
            const auto* v = node.as_string();
            if (!v) return Error{where(path, node) + ": host." + key + " must be a string"};
            if (v->get().empty())
                return Error{where(path, node) + ": host." + key + " must not be empty"};
            out = v->get();
            return {};
        };
        if (!known_keys().contains(key))
            return Error{where(path, node) + ": unknown key host." + key};
        seen[key] = &node;
        Result<void> r;
        if (key == "name") {
            r = text(h.name);
            if (r && !valid_name(h.name))
                r = Error{where(path, node) + ": host.name '" + h.name +
                          "': want 1 to 253 of [A-Za-z0-9._-]"};
        } else if (key == "url") {
            r = text(h.url);
        } else if (key == "ssh") {
            r = text(h.ssh);
            if (r && !valid_ssh_target(h.ssh))
                r = Error{where(path, node) + ": host.ssh '" + h.ssh +
                          "': want [user@]host without spaces, not starting with '-'"};
        } else if (key == "token_file") {
            r = text(h.token_file);
        } else if (key == "ca_file") {
            r = text(h.ca_file);
        } else if (key == "ssh_key") {
            r = text(h.ssh_key);
        } else if (key == "ssh_known_hosts") {
            r = text(h.ssh_known_hosts);
        } else if (key == "remote_dir") {
            r = text(h.remote_dir);
            if (r && h.remote_dir.front() != '/')
                r = Error{where(path, node) + ": host.remote_dir must be an absolute path"};
            while (r && h.remote_dir.size() > 1 && h.remote_dir.back() == '/')
                h.remote_dir.pop_back();
        } else if (key == "ssh_port") {
            // as_integer, not value<int64_t>: toml++ 3.3 converts floats without a range check.
            const auto* v = node.as_integer();
            if (!v || v->get() < 1 || v->get() > 65535)
                r = Error{where(path, node) + ": host.ssh_port must be an integer in [1, 65535]"};
            else
                h.ssh_port = static_cast<int>(v->get());
        } else if (key == "insecure_http") {
            const auto* v = node.as_boolean();
            if (!v)
                r = Error{where(path, node) + ": host.insecure_http must be true or false"};
            else
                h.insecure_http = v->get();
        } else if (key == "tags") {
            const auto* a = node.as_array();
            if (!a) return Error{where(path, node) + ": host.tags must be an array of strings"};
            for (const auto& el : *a) {
                const auto* v = el.as_string();
                if (!v) return Error{where(path, el) + ": host.tags must be an array of strings"};
                h.tags.push_back(v->get());
            }
        }
        if (!r) return r.error();
    }

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
    toml::table t;
    try {
        t = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return Error{fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description())};
    }
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
    std::ifstream in(path, std::ios::binary);
    if (!in) return errno_error("cannot read inventory " + path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return errno_error("cannot read inventory " + path);
    if (text.size() > (1 << 20)) return Error{path + ": inventory larger than 1 MiB"};
    return parse_inventory(text, path);
}

}  // namespace em
