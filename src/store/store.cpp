#include "store/store.h"

#include "store/backend.h"

namespace em::store {

Statement::Statement() = default;
Statement::Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}
Statement::Statement(Statement&&) noexcept = default;
Statement& Statement::operator=(Statement&&) noexcept = default;
Statement::~Statement() = default;

Statement& Statement::bind(int i, int64_t v) {
    impl_->bind_int(i, v);
    return *this;
}
Statement& Statement::bind(int i, std::string_view v) {
    impl_->bind_text(i, v);
    return *this;
}
Statement& Statement::bind_blob(int i, std::string_view v) {
    impl_->bind_blob(i, v);
    return *this;
}
Statement& Statement::bind_null(int i) {
    impl_->bind_null(i);
    return *this;
}
Step Statement::step() { return impl_->step(); }
void Statement::reset() { impl_->reset(); }
int64_t Statement::int64(int col) { return impl_->int64(col); }
std::string_view Statement::text(int col) { return impl_->text(col); }
std::string_view Statement::blob(int col) { return impl_->blob(col); }
bool Statement::is_null(int col) { return impl_->is_null(col); }
int Statement::columns() { return impl_->columns(); }

bool is_postgres_url(std::string_view target) {
    return target.rfind("postgresql://", 0) == 0 || target.rfind("postgres://", 0) == 0;
}

std::string redact_url(std::string_view url) {
    std::string out(url);
    const size_t scheme = out.find("://");
    if (scheme != std::string::npos) {
        const size_t start = scheme + 3;
        const size_t end = out.find_first_of("/?", start);
        const size_t at = out.rfind('@', end == std::string::npos ? out.size() : end);
        if (at != std::string::npos && at >= start) {
            const size_t colon = out.find(':', start);
            if (colon != std::string::npos && colon < at) out.erase(colon, at - colon);
        }
    }
    // password=… among the query parameters
    for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p)) {
        if (p > 0 && out[p - 1] != '?' && out[p - 1] != '&') {
            p += 9;
            continue;
        }
        size_t end = out.find('&', p);
        out.replace(p, (end == std::string::npos ? out.size() : end) - p, "password=*");
        p += 10;
    }
    return out;
}

Database::Database(std::unique_ptr<DatabaseImpl> impl) : impl_(std::move(impl)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

Result<Database> Database::open(const std::string& target, bool read_only) {
    auto impl =
        is_postgres_url(target) ? open_postgres(target, read_only) : open_sqlite(target, read_only);
    if (!impl) return impl.error();
    return Database(std::move(*impl));
}

Backend Database::backend() const { return impl_->backend(); }
const std::string& Database::where() const { return impl_->where(); }
Result<void> Database::exec(const std::string& sql) { return impl_->exec(sql); }

Result<Statement> Database::prepare(const std::string& sql) {
    auto st = impl_->prepare(sql);
    if (!st) return st.error();
    return Statement(std::move(*st));
}

Result<void> Database::run(Statement& st) {
    const Step s = st.step();
    if (s == Step::Failed) {
        Error e = error("statement failed");
        st.reset();
        return e;
    }
    st.reset();
    return {};
}

Error Database::error(const std::string& what) const {
    return Error{what + " in " + impl_->where() + ": " + impl_->last_error()};
}

Result<void> Database::begin() { return impl_->begin(); }
Result<void> Database::commit() { return impl_->exec("COMMIT"); }
void Database::rollback() { impl_->rollback(); }
Result<void> Database::queue(Statement& st) { return impl_->queue(*st.impl_); }
bool Database::in_transaction() const { return impl_->in_transaction(); }
Result<int64_t> Database::schema_version() { return impl_->schema_version(); }
Result<void> Database::set_schema_version(int64_t v) { return impl_->set_schema_version(v); }

}  // namespace em::store
