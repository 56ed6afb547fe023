#include "core/sqlite.h"

namespace em::sql {

Result<Database> Database::open(const std::string& path, bool read_only) {
    sqlite3* raw = nullptr;
    const int mode = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path.c_str(), &raw, mode | SQLITE_OPEN_NOMUTEX, nullptr);
    DbPtr db(raw);
    if (rc != SQLITE_OK)
        return Error{"cannot open " + path + ": " +
                     (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))};
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);
    return Database(std::move(db), path);
}

Error Database::error(const std::string& what) const {
    return Error{what + " in " + path_ + ": " + sqlite3_errmsg(db_.get())};
}

Result<void> Database::exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : "unknown error";
        sqlite3_free(msg);
        return Error{m + " in " + path_};
    }
    return {};
}

Result<Statement> Database::prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) !=
        SQLITE_OK)
        return error("cannot prepare statement");
    return Statement(StmtPtr(st));
}

Result<void> Database::run(Statement& st) {
    int rc = st.step();
    st.reset();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return error("statement failed");
    return {};
}

Result<bool> BlobReader::open(int64_t rowid) {
    int rc = SQLITE_ERROR;
    if (h_) {
        rc = sqlite3_blob_reopen(h_.get(), rowid);
        if (rc != SQLITE_OK) h_.reset();  // a failed reopen leaves the handle aborted
    }
    if (!h_) {
        sqlite3_blob* raw = nullptr;
        rc = sqlite3_blob_open(db_.get(), "main", table_, column_, rowid, 0, &raw);
        h_.reset(raw);
    }
    if (rc == SQLITE_OK) return true;
    h_.reset();
    // SQLite says a missing row only in its message: "no such rowid: N".
    if (rc == SQLITE_ERROR &&
        std::string_view(sqlite3_errmsg(db_.get())).rfind("no such rowid", 0) == 0)
        return false;
    return db_.error(std::string("cannot open a blob of ") + table_);
}

Result<void> BlobReader::read(size_t offset, size_t n, std::string& out) {
    if (!h_ || offset > size() || n > size() - offset)
        return Error{std::string("a read past the end of a blob of ") + table_};
    out.resize(n);
    if (n > 0 && sqlite3_blob_read(h_.get(), out.data(), static_cast<int>(n),
                                   static_cast<int>(offset)) != SQLITE_OK)
        return db_.error(std::string("cannot read a blob of ") + table_);
    return {};
}

}  // namespace em::sql
