// SQLite behind store.h: the statements and connection of core/sqlite.h.
#include "core/sqlite.h"
#include "store/backend.h"

namespace em::store {
namespace {

class SqliteStatement final : public StatementImpl {
  public:
    explicit SqliteStatement(sql::Statement st) : st_(std::move(st)) {}
    void bind_int(int i, int64_t v) override { st_.bind(i, v); }
    void bind_text(int i, std::string_view v) override { st_.bind(i, v); }
    void bind_blob(int i, std::string_view v) override {
        // A zero-length blob with a null pointer would bind NULL.
        st_.bind_blob(i, v.data() ? v : std::string_view(""));
    }
    void bind_null(int i) override { st_.bind_null(i); }
    Step step() override {
        // SQLite would run a finished statement again; the interface says Done until reset().
        if (done_) return Step::Done;
        const int rc = st_.step();
        if (rc == SQLITE_ROW) return Step::Row;
        done_ = true;
        return rc == SQLITE_DONE ? Step::Done : Step::Failed;
    }
    void reset() override {
        st_.reset();
        done_ = false;
    }
    int64_t int64(int col) override { return st_.int64(col); }
    std::string_view text(int col) override { return st_.text(col); }
    std::string_view blob(int col) override { return st_.blob(col); }
    bool is_null(int col) override { return st_.is_null(col); }
    int columns() override { return st_.columns(); }

  private:
    sql::Statement st_;
    bool done_ = false;
};

class SqliteDatabase final : public DatabaseImpl {
  public:
    SqliteDatabase(sql::Database db, std::string path)
        : db_(std::move(db)), path_(std::move(path)) {}
    Backend backend() const override { return Backend::Sqlite; }
    const std::string& where() const override { return path_; }
    Result<void> exec(const std::string& sql) override { return db_.exec(sql.c_str()); }
    Result<std::unique_ptr<StatementImpl>> prepare(const std::string& sql) override {
        auto st = db_.prepare(sql.c_str());
        if (!st) return st.error();
        return std::unique_ptr<StatementImpl>(std::make_unique<SqliteStatement>(std::move(*st)));
    }
    std::string last_error() const override { return sqlite3_errmsg(db_.get()); }
    Result<void> begin() override { return db_.exec("BEGIN IMMEDIATE"); }
    bool in_transaction() const override { return sqlite3_get_autocommit(db_.get()) == 0; }
    Result<int64_t> schema_version() override {
        auto st = db_.prepare("PRAGMA user_version");
        if (!st) return st.error();
        if (st->step() != SQLITE_ROW) return db_.error("cannot read the schema version");
        return st->int64(0);
    }
    Result<void> set_schema_version(int64_t v) override {
        return db_.exec(("PRAGMA user_version = " + std::to_string(v)).c_str());
    }
    sql::Database* sqlite() override { return &db_; }

  private:
    sql::Database db_;
    std::string path_;
};

}  // namespace

Result<std::unique_ptr<DatabaseImpl>> open_sqlite(const std::string& path, bool read_only) {
    auto db = sql::Database::open(path, read_only);
    if (!db) return db.error();
    return std::unique_ptr<DatabaseImpl>(std::make_unique<SqliteDatabase>(std::move(*db), path));
}

}  // namespace em::store
