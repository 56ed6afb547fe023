#pragma once
// Thin RAII wrappers over the SQLite C API: a connection and prepared statements whose
// errors come back as Result with the database path and SQLite's message.
#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em::sql {

using DbPtr = std::unique_ptr<sqlite3, Deleter<sqlite3_close_v2>>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, Deleter<sqlite3_finalize>>;

class Statement {
  public:
    Statement() = default;
    explicit Statement(StmtPtr s) : s_(std::move(s)) {}
    Statement& bind(int i, int64_t v) {
        sqlite3_bind_int64(s_.get(), i, v);
        return *this;
    }
    Statement& bind(int i, std::string_view v) {
        // An empty view may have no data pointer: SQLite would bind NULL instead of ''.
        sqlite3_bind_text(s_.get(), i, v.data() ? v.data() : "", static_cast<int>(v.size()),
                          SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bind_blob(int i, std::string_view v) {
        sqlite3_bind_blob(s_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Statement& bind_null(int i) {
        sqlite3_bind_null(s_.get(), i);
        return *this;
    }
    /// SQLITE_ROW, SQLITE_DONE, or an error code.
    int step() { return sqlite3_step(s_.get()); }
    void reset() {
        sqlite3_reset(s_.get());
        sqlite3_clear_bindings(s_.get());
    }
    int64_t int64(int col) { return sqlite3_column_int64(s_.get(), col); }
    std::string_view text(int col) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_.get(), col));
        return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_.get(), col)))
                 : std::string_view();
    }
    std::string_view blob(int col) {
        auto p = static_cast<const char*>(sqlite3_column_blob(s_.get(), col));
        return p ? std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_.get(), col)))
                 : std::string_view();
    }
    bool is_null(int col) { return sqlite3_column_type(s_.get(), col) == SQLITE_NULL; }
    int columns() { return sqlite3_column_count(s_.get()); }

  private:
    StmtPtr s_;
};

class Database {
  public:
    /// Opens (creating it unless `read_only`) the database at `path`.
    static Result<Database> open(const std::string& path, bool read_only = false);
    Result<void> exec(const char* sql);
    Result<Statement> prepare(const char* sql);
    /// Runs a statement that returns no rows, resetting it afterwards.
    Result<void> run(Statement& st);
    Error error(const std::string& what) const;
    sqlite3* get() const { return db_.get(); }

  private:
    Database(DbPtr db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}
    DbPtr db_;
    std::string path_;
};

/// Incremental reads of one BLOB column (sqlite3_blob_open/reopen/read): a few KiB of a large
/// value without copying all of it. While a row is open the handle holds a read transaction
/// (one snapshot across reopen()s), so keep one only for the length of a request.
class BlobReader {
  public:
    BlobReader(Database& db, const char* table, const char* column)
        : db_(db), table_(table), column_(column) {}
    /// Points the reader at row `rowid`; false (not an error) when there is no such row.
    Result<bool> open(int64_t rowid);
    size_t size() const { return h_ ? static_cast<size_t>(sqlite3_blob_bytes(h_.get())) : 0; }
    /// Sets `out` to the `n` bytes at `offset` of the open row.
    Result<void> read(size_t offset, size_t n, std::string& out);

  private:
    using BlobPtr = std::unique_ptr<sqlite3_blob, Deleter<sqlite3_blob_close>>;
    Database& db_;
    const char* table_;
    const char* column_;
    BlobPtr h_;
};

}  // namespace em::sql
