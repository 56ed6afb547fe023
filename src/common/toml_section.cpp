#include "common/toml_section.h"

#include <fmt/core.h>

#include "common/duration.h"

namespace em {

namespace {

uint32_t line_of(const toml::node& n) { return n.source().begin.line; }

// 90000 → "90s", 120000 → "2m", 150 → "150ms": the largest unit that divides it.
std::string duration_text(int64_t ms) {
    if (ms % 3600000 == 0) return fmt::format("{}h", ms / 3600000);
    if (ms % 60000 == 0) return fmt::format("{}m", ms / 60000);
    if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
    return fmt::format("{}ms", ms);
}

}  // namespace

Result<toml::table> parse_toml(std::string_view text, const std::string& path) {
    try {
        return toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return Error{fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description())};
    }
}

TomlSection::TomlSection(const toml::table* table, std::string name, std::string path)
    : t_(table), name_(std::move(name)), path_(std::move(path)) {}

const toml::node* TomlSection::get(std::string_view key) {
    used_.emplace(key);
    return error_ ? nullptr : find(key);
}

const toml::node* TomlSection::find(std::string_view key) const {
    return t_ ? t_->get(key) : nullptr;
}

const toml::node* TomlSection::node(std::string_view key) { return get(key); }

void TomlSection::record(std::string message) {
    if (!error_) error_ = Error{std::move(message)};
}

std::string TomlSection::where() const {
    if (!t_ || !t_->source().begin) return path_;
    return where(*t_);
}

std::string TomlSection::where(const toml::node& n) const {
    return fmt::format("{}:{}", path_, line_of(n));
}

std::string TomlSection::qualified(std::string_view key) const {
    return name_.empty() ? std::string(key) : fmt::format("{}.{}", name_, key);
}

bool TomlSection::fail(std::string_view key, std::string_view what) {
    const toml::node* n = find(key);
    record(fmt::format("{}: {} {}", n ? where(*n) : where(), qualified(key), what));
    return false;
}

bool TomlSection::fail_at(const toml::node& n, std::string_view text) {
    record(fmt::format("{}: {}", where(n), text));
    return false;
}

bool TomlSection::fail_here(std::string_view text) {
    record(fmt::format("{}: {}", where(), text));
    return false;
}

bool TomlSection::boolean(std::string_view key, bool& out) {
    const toml::node* n = get(key);
    if (!n) return ok();
    const auto* v = n->as_boolean();
    if (!v) return fail(key, "must be true or false");
    out = v->get();
    return true;
}

bool TomlSection::integer(std::string_view key, int64_t& out, int64_t lo, int64_t hi) {
    const toml::node* n = get(key);
    if (!n) return ok();
    const auto* v = n->as_integer();
    if (!v || v->get() < lo || v->get() > hi)
        return fail(key, fmt::format("must be an integer in [{}, {}]", lo, hi));
    out = v->get();
    return true;
}

bool TomlSection::number(std::string_view key, double& out, double lo, double hi) {
    const toml::node* n = get(key);
    if (!n) return ok();
    double d;
    if (const auto* i = n->as_integer())
        d = static_cast<double>(i->get());
    else if (const auto* f = n->as_floating_point())
        d = f->get();
    else
        return fail(key, "must be a number");
    if (!(d >= lo && d <= hi)) return fail(key, fmt::format("must be in [{}, {}]", lo, hi));
    out = d;
    return true;
}

bool TomlSection::text(std::string_view key, std::string& out, Empty empty) {
    const toml::node* n = get(key);
    if (!n) return ok();
    const auto* v = n->as_string();
    if (!v) return fail(key, "must be a string");
    if (empty == Empty::refused && v->get().empty()) return fail(key, "must not be empty");
    out = v->get();
    return true;
}

bool TomlSection::strings(std::string_view key, std::vector<std::string>& out) {
    const toml::node* n = get(key);
    if (!n) return ok();
    const auto* a = n->as_array();
    if (!a) return fail(key, "must be an array of strings");
    std::vector<std::string> got;
    for (const auto& e : *a) {
        const auto* v = e.as_string();
        if (!v) return fail_at(e, qualified(key) + " must be an array of strings");
        got.push_back(v->get());
    }
    out = std::move(got);
    return true;
}

bool TomlSection::duration_ms(std::string_view key, int64_t& out, int64_t lo_ms, int64_t hi_ms) {
    const toml::node* n = get(key);
    if (!n) return ok();
    const auto* s = n->as_string();
    if (!s) return fail(key, "must be a duration such as \"5s\"");
    auto ms = parse_duration_ms(s->get());
    if (!ms) return fail_at(*n, qualified(key) + ": " + ms.error().message);
    if (*ms < lo_ms || *ms > hi_ms)
        return fail(key, fmt::format("must be from {} to {}", duration_text(lo_ms),
                                     duration_text(hi_ms))),
               false;
    out = *ms;
    return true;
}

bool TomlSection::size_bytes(std::string_view key, uint64_t& out, uint64_t lo, uint64_t hi) {
    const toml::node* n = get(key);
    if (!n) return ok();
    uint64_t bytes = 0;
    if (const auto* i = n->as_integer()) {
        if (i->get() < 0) return fail(key, fmt::format("must be from {} to {} bytes", lo, hi));
        bytes = static_cast<uint64_t>(i->get());
    } else if (const auto* s = n->as_string()) {
        auto b = parse_size_bytes(s->get());
        if (!b) return fail_at(*n, qualified(key) + ": " + b.error().message);
        bytes = *b;
    } else {
        return fail(key, "must be a size such as \"4MiB\" or a number of bytes");
    }
    if (bytes < lo || bytes > hi)
        return fail(key, fmt::format("must be from {} to {} bytes", lo, hi));
    out = bytes;
    return true;
}

bool TomlSection::string_table(std::string_view key, std::map<std::string, std::string>& out) {
    const toml::node* n = get(key);
    if (!n) return ok();
    const auto* t = n->as_table();
    if (!t) return fail(key, "must be a table");
    std::map<std::string, std::string> got;
    for (auto&& [k, v] : *t) {
        const auto* s = v.as_string();
        if (!s) return fail_at(v, qualified(key) + " values are strings");
        got[std::string(k.str())] = s->get();
    }
    for (auto& [k, v] : got) out[k] = std::move(v);
    return true;
}

const toml::table* TomlSection::table(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    const auto* t = n->as_table();
    if (!t) fail(key, "must be a table");
    return t;
}

Result<void> TomlSection::status() const {
    if (error_) return *error_;
    return {};
}

Result<void> TomlSection::finish(std::string_view noun) const {
    if (error_) return *error_;
    if (!t_) return {};
    for (auto&& [k, n] : *t_)
        if (!used_.contains(k.str()))
            return Error{fmt::format("{}: unknown {} {}", where(n), noun, qualified(k.str()))};
    return {};
}

}  // namespace em
