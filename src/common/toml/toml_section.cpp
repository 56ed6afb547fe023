#include "common/toml/toml_section.h"

#include <fmt/core.h>

namespace em {

Result<toml::table> parse_toml(std::string_view text, const std::string& path) {
    try {
        return toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return Error{fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                 e.source().begin.column, e.description())};
    }
}

std::string toml_where(const std::string& path, const toml::node& n) {
    return fmt::format("{}:{}", path, n.source().begin.line);
}

TomlSection::TomlSection(const toml::table* table, std::string name, const std::string& path)
    : table_(table), name_(std::move(name)), path_(path) {}

const toml::node* TomlSection::node(const char* key) {
    used_.insert(key);
    return table_ ? table_->get(key) : nullptr;
}

TomlSection& TomlSection::boolean(const char* key, bool& out) {
    const toml::node* n = node(key);
    if (!n || failed_) return *this;
    if (const auto* v = n->as_boolean())
        out = v->get();
    else
        fail(bad(*n, key, "must be true or false"));
    return *this;
}

bool TomlSection::integer_value(const char* key, int64_t& out, int64_t lo, int64_t hi) {
    const toml::node* n = node(key);
    if (!n || failed_) return false;
    const auto* v = n->as_integer();
    if (!v || v->get() < lo || v->get() > hi) {
        fail(bad(*n, key, fmt::format("must be an integer in [{}, {}]", lo, hi)));
        return false;
    }
    out = v->get();
    return true;
}

TomlSection& TomlSection::number(const char* key, double& out, double lo, double hi) {
    const toml::node* n = node(key);
    if (!n || failed_) return *this;
    double d;
    if (const auto* i = n->as_integer()) {
        d = static_cast<double>(i->get());
    } else if (const auto* f = n->as_floating_point()) {
        d = f->get();
    } else {
        fail(bad(*n, key, "must be a number"));
        return *this;
    }
    if (!(d >= lo && d <= hi))
        fail(bad(*n, key, fmt::format("must be in [{}, {}]", lo, hi)));
    else
        out = d;
    return *this;
}

TomlSection& TomlSection::text(const char* key, std::string& out, bool non_empty) {
    const toml::node* n = node(key);
    if (!n || failed_) return *this;
    const auto* v = n->as_string();
    if (!v)
        fail(bad(*n, key, "must be a string"));
    else if (non_empty && v->get().empty())
        fail(bad(*n, key, "must not be empty"));
    else
        out = v->get();
    return *this;
}

TomlSection& TomlSection::strings(const char* key, std::vector<std::string>& out) {
    const toml::node* n = node(key);
    if (!n || failed_) return *this;
    std::vector<std::string> got;
    // An element that is not a string is reported at its own line.
    const toml::node* wrong = n;
    if (const auto* a = n->as_array()) {
        wrong = nullptr;
        for (const auto& e : *a) {
            if (const auto* v = e.as_string()) {
                got.push_back(v->get());
            } else {
                wrong = &e;
                break;
            }
        }
    }
    if (wrong)
        fail(bad(*wrong, key, "must be an array of strings"));
    else
        out = std::move(got);
    return *this;
}

const toml::table* TomlSection::table(const char* key) {
    const toml::node* n = node(key);
    if (!n || failed_) return nullptr;
    const auto* t = n->as_table();
    if (!t) fail(bad(*n, key, "must be a table"));
    return t;
}

std::string TomlSection::qualified(std::string_view key) const {
    return name_.empty() ? std::string(key) : fmt::format("{}.{}", name_, key);
}

Error TomlSection::bad(const toml::node& n, std::string_view key, std::string_view what) const {
    return Error{fmt::format("{}: {} {}", where(n), qualified(key), what)};
}

void TomlSection::fail(Error e) {
    if (failed_) return;
    failed_ = true;
    error_ = std::move(e);
}

Result<void> TomlSection::status() const {
    if (failed_) return error_;
    return {};
}

Result<void> TomlSection::finish() const {
    if (failed_) return error_;
    if (!table_) return {};
    for (auto&& [k, n] : *table_)
        if (!used_.contains(k.str()))
            return Error{fmt::format("{}: unknown key {}", where(n), qualified(k.str()))};
    return {};
}

}  // namespace em
