#include "core/sqlite.h"
#include "store/backend.h"
#include "store/store.h"

namespace em::store {

struct BlobReader::Sqlite {
    sql::BlobReader reader;
};

BlobReader::BlobReader(Database& db, std::string table, std::string column)
    : db_(db), table_(std::move(table)), column_(std::move(column)) {}

BlobReader::~BlobReader() {
    sqlite_.reset();
    if (in_tx_) db_.rollback();  // a read-only snapshot: nothing to keep
}

Result<bool> BlobReader::open(int64_t id) {
    size_ = 0;
    if (sql::Database* lite = db_.impl().sqlite()) {
        if (!sqlite_)
            sqlite_ = std::make_unique<Sqlite>(Sqlite{{*lite, table_.c_str(), column_.c_str()}});
        auto r = sqlite_->reader.open(id);
        if (r && *r) size_ = sqlite_->reader.size();
        return r;
    }
    if (!part_prepared_) {
        if (!db_.in_transaction()) {
            if (auto r = db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r)
                return r.error();
            in_tx_ = true;
        }
        part_prepared_ = true;
        auto s =
            db_.prepare("SELECT octet_length(" + column_ + ") FROM " + table_ + " WHERE id = ?1");
        if (!s) return s.error();
        size_of_ = std::move(*s);
        auto p = db_.prepare("SELECT substring(" + column_ + " FROM ?2 FOR ?3) FROM " + table_ +
                             " WHERE id = ?1");
        if (!p) return p.error();
        part_ = std::move(*p);
    }
    size_of_.bind(1, id);
    const Step s = size_of_.step();
    const bool there = s == Step::Row;
    if (there) size_ = static_cast<size_t>(size_of_.int64(0));
    size_of_.reset();
    if (s == Step::Failed) return db_.error("cannot open a blob of " + table_);
    id_ = id;
    return there;
}

Result<void> BlobReader::read(size_t offset, size_t n, std::string& out) {
    if (offset > size_ || n > size_ - offset)
        return Error{"a read past the end of a blob of " + table_};
    if (sqlite_) return sqlite_->reader.read(offset, n, out);
    out.clear();
    if (n == 0) return {};
    part_.bind(1, id_).bind(2, static_cast<int64_t>(offset) + 1).bind(3, static_cast<int64_t>(n));
    const Step s = part_.step();
    if (s == Step::Row) out = part_.blob(0);
    part_.reset();
    if (s != Step::Row) return db_.error("cannot read a blob of " + table_);
    if (out.size() != n) return Error{"a blob of " + table_ + " changed while it was read"};
    return {};
}

}  // namespace em::store
