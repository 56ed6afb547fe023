#pragma once
// The two implementations behind store.h. Internal to src/store/ (and to code that needs a
// backend's own feature through Database::impl()).
#include <memory>
#include <string>

#include "store/store.h"

namespace em::sql {
class Database;
}

namespace em::store {

class StatementImpl {
  public:
    virtual ~StatementImpl() = default;
    virtual void bind_int(int i, int64_t v) = 0;
    virtual void bind_text(int i, std::string_view v) = 0;
    virtual void bind_blob(int i, std::string_view v) = 0;
    virtual void bind_null(int i) = 0;
    virtual Step step() = 0;
    virtual void reset() = 0;
    virtual int64_t int64(int col) = 0;
    virtual std::string_view text(int col) = 0;
    virtual std::string_view blob(int col) = 0;
    virtual bool is_null(int col) = 0;
    virtual int columns() = 0;
};

class DatabaseImpl {
  public:
    virtual ~DatabaseImpl() = default;
    virtual Backend backend() const = 0;
    virtual const std::string& where() const = 0;
    virtual Result<void> exec(const std::string& sql) = 0;
    virtual Result<std::unique_ptr<StatementImpl>> prepare(const std::string& sql) = 0;
    /// The store's last error message.
    virtual std::string last_error() const = 0;
    virtual Result<void> begin() = 0;
    virtual bool in_transaction() const = 0;
    virtual void rollback() { (void)exec("ROLLBACK"); }
    /// Runs a statement whose rows are not read, now (the default) or later (see
    /// Database::queue); the statement is reset.
    virtual Result<void> queue(StatementImpl& st) {
        const Step s = st.step();
        st.reset();
        if (s == Step::Failed) return Error{"statement failed in " + where() + ": " + last_error()};
        return {};
    }
    virtual Result<int64_t> schema_version() = 0;
    virtual Result<void> set_schema_version(int64_t v) = 0;
    /// The SQLite connection (null for PostgreSQL).
    virtual sql::Database* sqlite() { return nullptr; }
};

Result<std::unique_ptr<DatabaseImpl>> open_sqlite(const std::string& path, bool read_only);
Result<std::unique_ptr<DatabaseImpl>> open_postgres(const std::string& url, bool read_only);

}  // namespace em::store
