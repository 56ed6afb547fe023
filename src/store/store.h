#pragma once
// One SQL interface over two stores: SQLite (a file; the embedded default) and PostgreSQL
// (libpq; a fleet's shared store). What differs between them lives behind this interface;
// the SQL the callers write is the common dialect of both:
//   - parameters are written ?1, ?2, … (translated to $1, $2, … for PostgreSQL);
//   - INSERT … ON CONFLICT … DO NOTHING / DO UPDATE, and INSERT … RETURNING, not SQLite's
//     INSERT OR IGNORE/REPLACE or last_insert_rowid();
//   - transactions through begin()/commit()/rollback(), the schema version through
//     schema_version()/set_schema_version();
//   - DDL that differs (INTEGER PRIMARY KEY vs identity columns, BLOB vs BYTEA) is written
//     once per backend by the caller, switching on backend().
// Values are 64-bit integers, text (no NUL bytes: PostgreSQL's text cannot hold them) and
// blobs (any bytes). Reading a NULL gives 0 or an empty view, as SQLite does.
//
// Errors come back as Result whose message names what failed and where: the SQLite path, or
// the PostgreSQL server and database (never the password).
//
// A Database and its Statements are used by one thread at a time; a Statement must not
// outlive its Database.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace em::store {

enum class Backend { Sqlite, Postgres };

/// What Statement::step() found.
enum class Step {
    Row,     // a row is ready to be read
    Done,    // no (more) rows: the statement finished
    Failed,  // an error: Database::error() says which
};

class StatementImpl;
class DatabaseImpl;

class Statement {
  public:
    Statement();
    explicit Statement(std::unique_ptr<StatementImpl> impl);
    Statement(Statement&&) noexcept;
    Statement& operator=(Statement&&) noexcept;
    ~Statement();

    /// Parameters are numbered from 1, as ?1, ?2, … in the SQL.
    Statement& bind(int i, int64_t v);
    Statement& bind(int i, std::string_view v);
    Statement& bind_blob(int i, std::string_view v);
    Statement& bind_null(int i);
    /// Runs the statement on its first call after reset(), then walks its rows; after Done
    /// (or Failed) it stays Done until reset().
    Step step();
    /// Ready to run again; the parameters are cleared.
    void reset();
    /// Columns of the current row, numbered from 0. The views are valid until the next
    /// step() or reset().
    int64_t int64(int col);
    std::string_view text(int col);
    std::string_view blob(int col);
    bool is_null(int col);
    /// Columns of the result (0 before the first step()).
    int columns();

  private:
    friend class Database;
    std::unique_ptr<StatementImpl> impl_;
};

class Database {
  public:
    /// `target` is "postgresql://…" or "postgres://…" (a libpq connection URI) or the path
    /// of an SQLite file (created unless `read_only`). A read-only PostgreSQL connection
    /// refuses writes (default_transaction_read_only).
    static Result<Database> open(const std::string& target, bool read_only = false);
    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;
    ~Database();

    Backend backend() const;
    /// Where the store is, for messages: the SQLite path, or "postgresql://host:port/db".
    const std::string& where() const;

    /// Runs SQL without parameters (several statements separated by ';' allowed).
    Result<void> exec(const std::string& sql);
    Result<Statement> prepare(const std::string& sql);
    /// Runs a statement that returns no rows (or whose rows are not read), resetting it.
    Result<void> run(Statement& st);
    /// As run(), but inside a transaction the store may send the statement later with others
    /// (PostgreSQL: in one pipeline, one round trip for many statements) — so its failure may
    /// show only at the next call that waits for the store (a step(), run(), exec(), commit()
    /// …), which then fails with it and leaves the transaction to be rolled back. Outside a
    /// transaction, and on SQLite, it is run().
    Result<void> queue(Statement& st);
    /// An Error "<what> in <where>: <the store's last message>".
    Error error(const std::string& what) const;

    /// A write transaction: SQLite takes its write lock at once (BEGIN IMMEDIATE).
    Result<void> begin();
    Result<void> commit();
    /// Never fails visibly: a rollback that cannot run leaves nothing to undo.
    void rollback();
    /// A transaction is open on this connection.
    bool in_transaction() const;

    /// The schema version the store records (0 for a new store). SQLite keeps it in
    /// PRAGMA user_version, PostgreSQL in the table em_schema.
    Result<int64_t> schema_version();
    Result<void> set_schema_version(int64_t v);

    /// The backend's own object, for what only it can do (SQLite's incremental blob reads).
    DatabaseImpl& impl() { return *impl_; }

  private:
    explicit Database(std::unique_ptr<DatabaseImpl> impl);
    std::unique_ptr<DatabaseImpl> impl_;
};

/// Reads parts of the values of one blob column of a table keyed by an integer `id`,
/// without fetching whole values: SQLite's incremental blob I/O, PostgreSQL's substring() of
/// a bytea (a few KiB of a value stored with STORAGE EXTERNAL, uncompressed, reads only the
/// chunks it spans) in aligned blocks of 2 KiB, which the reader keeps for the open row: a
/// read of kept blocks asks the server nothing, open() brings the first and last block. From the
/// first open() on, the reads see one snapshot of the store (a read transaction, ended when the
/// reader is destroyed), so keep a reader only for the length of a request. Inside a transaction
/// the caller opened, the reads are that transaction's and the reader leaves it open.
class BlobReader {
  public:
    BlobReader(Database& db, std::string table, std::string column);
    BlobReader(const BlobReader&) = delete;
    BlobReader& operator=(const BlobReader&) = delete;
    ~BlobReader();
    /// Points the reader at row `id`; false (not an error) when there is no such row.
    Result<bool> open(int64_t id);
    /// The open row's value's size (0 when none is open).
    size_t size() const { return size_; }
    /// Sets `out` to the `n` bytes at `offset` of the open row.
    Result<void> read(size_t offset, size_t n, std::string& out);

  private:
    struct Sqlite;
    struct Postgres;
    Database& db_;
    std::string table_, column_;
    std::unique_ptr<Sqlite> sqlite_;
    std::unique_ptr<Postgres> pg_;
    bool in_tx_ = false;  // opened by this reader
    size_t size_ = 0;
};

/// True for the targets Database::open() hands to PostgreSQL.
bool is_postgres_url(std::string_view target);

/// "postgresql://user:secret@host/db" → "postgresql://user@host/db": a URL fit for messages
/// and logs. Also drops a password=… query parameter.
std::string redact_url(std::string_view url);

}  // namespace em::store
