#include <algorithm>
#include <string>
#include <vector>

#include "core/sqlite.h"
#include "store/backend.h"
#include "store/store.h"

namespace em::store {

namespace {

// PostgreSQL answers each query in a round trip, and a lookup in a stored state makes ~10-20
// small reads close to each other (the header, the restart table at the end, a binary
// search's probes, one run of entries). So the reader fetches aligned blocks, keeps those of
// the open row, and fetches all that a read misses in one query; open() brings the first and
// the last block with the size. Small blocks, because bytes are not free either (bytea comes
// as hex text): bench/collector_stores.sh was fastest with 2 KiB, among 1-16 KiB.
constexpr size_t kBlock = 2048;

}  // namespace

struct BlobReader::Sqlite {
    sql::BlobReader reader;
};

struct BlobReader::Postgres {
    Statement open;  // the size, the first and the last block
    Statement part;  // a span of blocks
    int64_t id = 0;
    std::vector<std::string> blocks;  // the open row's; "" for one not fetched yet

    // Keeps `bytes` as blocks [first, first + count) of a value of `size` bytes; false when
    // they are not all there (the value changed).
    bool keep(size_t first, size_t count, std::string_view bytes, size_t size) {
        if (bytes.size() != std::min(count * kBlock, size - first * kBlock)) return false;
        for (size_t i = 0; i < count; ++i) blocks[first + i] = bytes.substr(i * kBlock, kBlock);
        return true;
    }
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
    if (!pg_) {
        if (!db_.in_transaction()) {
            if (auto r = db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !r)
                return r.error();
            in_tx_ = true;
        }
        auto pg = std::make_unique<Postgres>();
        const std::string where = " FROM " + table_ + " WHERE id = ?1";
        // The size, the first block and the last one ("" when the first is the last).
        const std::string c = column_, b = std::to_string(kBlock);
        auto s = db_.prepare("SELECT octet_length(" + c + "), substring(" + c + " FROM 1 FOR " + b +
                             "), substring(" + c + " FROM greatest((octet_length(" + c +
                             ") - 1) / " + b + " * " + b + ", " + b + ") + 1)" + where);
        if (!s) return s.error();
        pg->open = std::move(*s);
        auto p = db_.prepare("SELECT substring(" + column_ + " FROM ?2 FOR ?3)" + where);
        if (!p) return p.error();
        pg->part = std::move(*p);
        pg_ = std::move(pg);
    }
    pg_->id = id;
    pg_->blocks.clear();
    pg_->open.bind(1, id);
    const Step s = pg_->open.step();
    const bool there = s == Step::Row;
    bool whole = true;
    if (there) {
        size_ = static_cast<size_t>(pg_->open.int64(0));
        auto& blocks = pg_->blocks;
        blocks.resize((size_ + kBlock - 1) / kBlock);
        if (!blocks.empty()) whole = pg_->keep(0, 1, pg_->open.blob(1), size_);
        if (blocks.size() > 1)
            whole = whole && pg_->keep(blocks.size() - 1, 1, pg_->open.blob(2), size_);
    }
    pg_->open.reset();
    if (s == Step::Failed) return db_.error("cannot open a blob of " + table_);
    if (!whole) {
        size_ = 0;
        return Error{"a blob of " + table_ + " changed while it was read"};
    }
    return there;
}

Result<void> BlobReader::read(size_t offset, size_t n, std::string& out) {
    if (offset > size_ || n > size_ - offset)
        return Error{"a read past the end of a blob of " + table_};
    if (sqlite_) return sqlite_->reader.read(offset, n, out);
    out.clear();
    if (n == 0) return {};
    const size_t end = offset + n;
    // The span of the blocks the read needs that are not kept yet: one query for all.
    size_t lo = offset / kBlock, hi = (end - 1) / kBlock + 1;
    while (lo < hi && !pg_->blocks[lo].empty()) ++lo;
    while (hi > lo && !pg_->blocks[hi - 1].empty()) --hi;
    if (lo < hi) {
        Statement& part = pg_->part;
        part.bind(1, pg_->id)
            .bind(2, static_cast<int64_t>(lo * kBlock) + 1)
            .bind(3, static_cast<int64_t>((hi - lo) * kBlock));
        const Step s = part.step();
        const bool whole = s == Step::Row && pg_->keep(lo, hi - lo, part.blob(0), size_);
        part.reset();
        if (s != Step::Row) return db_.error("cannot read a blob of " + table_);
        if (!whole) return Error{"a blob of " + table_ + " changed while it was read"};
    }
    out.reserve(n);
    for (size_t at = offset; at < end;) {
        const std::string& block = pg_->blocks[at / kBlock];
        const size_t in = at % kBlock;
        const size_t take = std::min(block.size() - in, end - at);
        out.append(block, in, take);
        at += take;
    }
    return {};
}

}  // namespace em::store
