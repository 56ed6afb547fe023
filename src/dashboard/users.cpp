#include "dashboard/users.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/files.h"
#include "common/unique_fd.h"

namespace em {

namespace {

constexpr size_t kMaxUsersFileBytes = size_t{1} << 20;
constexpr size_t kMaxNameBytes = 64;
constexpr size_t kNewTokenBytes = 24;

std::string sha256(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<const char*>(md), n);
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxNameBytes) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string to_hex(std::string_view raw) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

// The file's text, refusing what a token file would refuse (mode, type); "" when missing and
// `missing_ok`.
Result<std::string> read_users_file(const std::string& path, bool missing_ok) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT && missing_ok) return std::string();
        return errno_error("cannot read users file " + path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat users file " + path);
    if (!S_ISREG(st.st_mode)) return Error{"users file " + path + " is not a regular file"};
    if (st.st_mode & 077)
        return Error{fmt::format(
            "users file {} is readable or writable by group or others (mode {:o}): chmod 600 {}",
            path, st.st_mode & 0777, path)};
    if (static_cast<size_t>(st.st_size) > kMaxUsersFileBytes)
        return Error{
            fmt::format("users file {} is larger than {} bytes", path, kMaxUsersFileBytes)};
    return read_fd_head(fd.get(), kMaxUsersFileBytes, "cannot read users file " + path);
}

}  // namespace

std::string token_digest_hex(std::string_view token) { return to_hex(sha256(token)); }

Result<DashboardUsers> DashboardUsers::parse(std::string_view text, const std::string& path) {
    DashboardUsers out;
    size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line[0] == '#') continue;
        auto bad = [&](std::string_view what) {
            return Error{fmt::format("{}:{}: {} (want NAME SHA256-HEX)", path, line_no, what)};
        };
        const size_t sp = line.find(' ');
        if (sp == std::string_view::npos) return bad("one field");
        std::string_view name = line.substr(0, sp), hex = line.substr(sp + 1);
        if (!valid_name(name)) return bad("a name is 1 to 64 of letters, digits, '.', '_' and '-'");
        if (hex.size() != 64) return bad("the digest is not 64 hex digits");
        std::string raw;
        for (size_t i = 0; i < 64; i += 2) {
            const int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
            if (hi < 0 || lo < 0) return bad("the digest is not lower-case hex");
            raw += static_cast<char>(hi * 16 + lo);
        }
        for (const auto& [n, d] : out.users_)
            if (n == name) return bad(fmt::format("user {} listed twice", name));
        out.users_.emplace_back(std::string(name), std::move(raw));
    }
    return out;
}

Result<DashboardUsers> DashboardUsers::load(const std::string& path) {
    auto text = read_users_file(path, false);
    if (!text) return text.error();
    return parse(*text, path);
}

bool DashboardUsers::verify(std::string_view name, std::string_view token) const {
    const std::string got = sha256(token);
    // An unknown name is compared with a digest no token has, so that it takes as long.
    static const std::string kNone(32, '\0');
    const std::string* want = &kNone;
    for (const auto& [n, d] : users_)
        if (n == name) want = &d;
    const bool same = CRYPTO_memcmp(got.data(), want->data(), got.size()) == 0;
    return same && want != &kNone;
}

std::optional<std::string> DashboardUsers::owner(std::string_view token) const {
    const std::string got = sha256(token);
    std::optional<std::string> found;
    for (const auto& [n, d] : users_)  // every digest compared: no early exit
        if (CRYPTO_memcmp(got.data(), d.data(), got.size()) == 0) found = n;
    return found;
}

std::optional<std::string> DashboardUsers::digest(std::string_view name) const {
    for (const auto& [n, d] : users_)
        if (n == name) return d;
    return std::nullopt;
}

Result<std::string> add_dashboard_user(const std::string& path, const std::string& name) {
    if (!valid_name(name))
        return Error{"user name " + name + ": use 1 to 64 of letters, digits, '.', '_' and '-'"};
    auto text = read_users_file(path, true);
    if (!text) return text.error();
    auto users = DashboardUsers::parse(*text, path);
    if (!users) return users.error();
    if (users->digest(name)) return Error{"user " + name + " is already in " + path};
    unsigned char raw[kNewTokenBytes];
    if (RAND_bytes(raw, sizeof raw) != 1) return Error{"cannot make a random token"};
    const std::string token = to_hex(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
    std::string out = *text;
    if (out.empty())
        out = "# dashboard users: NAME SHA256-OF-TOKEN (egress-monitor dashboard --add-user)\n";
    if (out.back() != '\n') out += '\n';
    out += name + " " + token_digest_hex(token) + "\n";
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    const std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
    if (auto r = write_file_atomically(dir.empty() ? "/" : dir, file, out, 0600); !r)
        return r.error();
    return token;
}

}  // namespace em
