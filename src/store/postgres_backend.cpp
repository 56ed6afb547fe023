// PostgreSQL behind store.h, through libpq: named prepared statements (PQprepare once,
// PQexecPrepared per run) with text results, blobs sent in binary and read back from bytea's
// hex text. A statement's server-side twin is deallocated after the statement is destroyed,
// at the connection's next idle moment (DEALLOCATE cannot run inside a failed transaction).
//
// Statements queued inside a transaction (Database::queue) are sent in libpq's pipeline mode
// without waiting for each answer: the ingest's thousands of small INSERTs cost one round trip
// per kMaxQueued instead of one each. Every call that needs an answer first drains the
// pipeline (sync()), and reports the first queued failure as its own.
//
// A lost connection (the server restarted, a failover, an idle timeout) fails the call that
// finds it (never retried: the statement may have run), and is made again at the next call
// outside a transaction, where the statements are prepared again; inside a transaction every
// call fails until the caller rolls back — nothing is silently written outside the
// transaction it belonged to.
#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>
#include <vector>

#include "common/text_escape.h"
#include "common/unique_fd.h"
#include "store/backend.h"
#include "store/placeholders.h"

namespace em::store {
namespace {

using ConnPtr = std::unique_ptr<PGconn, Deleter<PQfinish>>;
using ResultPtr = std::unique_ptr<PGresult, Deleter<PQclear>>;
constexpr Oid kByteaOid = 17;
constexpr Oid kBoolOid = 16;

// libpq's messages are "ERROR:  what\nDETAIL:  why\n"; ours are one line.
std::string trimmed(const char* msg) {
    std::string_view in = msg ? msg : "";
    if (in.rfind("ERROR:  ", 0) == 0) in.remove_prefix(8);
    std::string s;
    for (char c : in) {
        if (c == '\n') {
            s += "; ";
        } else {
            s += c;
        }
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == ';')) s.pop_back();
    return s.empty() ? "unknown error" : s;
}

// PostgreSQL's text holds UTF-8 without NUL (the stores are created with encoding UTF8).
bool valid_text(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0) return false;
        if (c < 0x80) {
            ++i;
            continue;
        }
        const size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class PgDatabase;

class PgStatement final : public StatementImpl {
  public:
    PgStatement(PgDatabase& db, std::string name, std::string sql, int params, uint64_t session)
        : db_(db),
          name_(std::move(name)),
          sql_(std::move(sql)),
          session_(session),
          values_(params),
          null_(params, true),
          formats_(params, 0) {}
    ~PgStatement() override;

    void bind_int(int i, int64_t v) override {
        if (slot(i)) set(i, std::to_string(v), 0);
    }
    void bind_text(int i, std::string_view v) override {
        if (!slot(i)) return;
        if (!valid_text(v)) {
            bind_error_ = "text parameter " + std::to_string(i) +
                          " is not UTF-8 without NUL bytes (PostgreSQL's text cannot hold it)";
            return;
        }
        set(i, std::string(v), 0);
    }
    void bind_blob(int i, std::string_view v) override {
        if (slot(i)) set(i, std::string(v), 1);
    }
    void bind_null(int i) override {
        if (slot(i)) null_[static_cast<size_t>(i - 1)] = true;
    }
    Step step() override;
    void reset() override {
        result_.reset();
        ran_ = false;
        row_ = -1;
        rows_ = 0;
        bind_error_.clear();
        for (size_t k = 0; k < values_.size(); ++k) {
            null_[k] = true;
            values_[k].clear();
            formats_[k] = 0;
        }
    }
    int64_t int64(int col) override {
        if (!has(col) || PQgetisnull(result_.get(), row_, col)) return 0;
        const char* v = PQgetvalue(result_.get(), row_, col);
        const int len = PQgetlength(result_.get(), row_, col);
        if (PQftype(result_.get(), col) == kBoolOid) return v[0] == 't' ? 1 : 0;
        int64_t out = 0;
        auto [end, ec] = std::from_chars(v, v + len, out);
        if (ec == std::errc() && end == v + len) return out;
        return static_cast<int64_t>(std::strtod(v, nullptr));  // numeric "12.0", as SQLite would
    }
    std::string_view text(int col) override {
        if (!has(col) || PQgetisnull(result_.get(), row_, col)) return {};
        return {PQgetvalue(result_.get(), row_, col),
                static_cast<size_t>(PQgetlength(result_.get(), row_, col))};
    }
    std::string_view blob(int col) override {
        std::string_view t = text(col);
        if (!has(col) || PQftype(result_.get(), col) != kByteaOid) return t;
        // bytea_output = hex (set at connect): "\x" then two hex digits a byte.
        std::string& out = blobs_[static_cast<size_t>(col)];
        out.clear();
        if (t.size() < 2 || t[0] != '\\' || t[1] != 'x') return out;
        out.reserve((t.size() - 2) / 2);
        for (size_t k = 2; k + 1 < t.size(); k += 2)
            out += static_cast<char>(hex_value(t[k]) << 4 | hex_value(t[k + 1]));
        return out;
    }
    bool is_null(int col) override {
        return !has(col) || PQgetisnull(result_.get(), row_, col) != 0;
    }
    int columns() override { return result_ ? PQnfields(result_.get()) : 0; }

  private:
    bool slot(int i) {
        if (i >= 1 && static_cast<size_t>(i) <= values_.size()) return true;
        bind_error_ = "parameter " + std::to_string(i) + " is not in the statement";
        return false;
    }
    void set(int i, std::string v, int format) {
        const auto k = static_cast<size_t>(i - 1);
        values_[k] = std::move(v);
        null_[k] = false;
        formats_[k] = format;
    }
    bool has(int col) const {
        return result_ && row_ >= 0 && row_ < rows_ && col >= 0 && col < PQnfields(result_.get());
    }

    PgDatabase& db_;
    std::string name_;
    std::string sql_;   // as sent to the server, to prepare again on a new connection
    uint64_t session_;  // the connection it is prepared on
    std::vector<std::string> values_;
    std::vector<bool> null_;
    std::vector<int> formats_;
    std::string bind_error_;
    ResultPtr result_;
    bool ran_ = false;
    int row_ = -1, rows_ = 0;
    std::vector<std::string> blobs_;
    friend class PgDatabase;
};

// Queued statements sent before the pipeline is drained: bounds what the server buffers for
// us (each answer is a few dozen bytes), so that neither side blocks writing to the other.
constexpr size_t kMaxQueued = 512;

class PgDatabase final : public DatabaseImpl {
  public:
    PgDatabase(ConnPtr conn, std::string where, bool read_only)
        : conn_(std::move(conn)), where_(std::move(where)), read_only_(read_only) {}
    Backend backend() const override { return Backend::Postgres; }
    const std::string& where() const override { return where_; }

    Result<void> exec(const std::string& sql) override {
        if (!usable() || !sync()) return Error{last_error_ + " in " + where_};
        ResultPtr r(PQexec(conn_.get(), sql.c_str()));
        if (!good(r.get())) return Error{last_error_ + " in " + where_};
        return {};
    }

    Result<std::unique_ptr<StatementImpl>> prepare(const std::string& sql) override {
        if (!usable() || !sync())
            return Error{"cannot prepare statement in " + where_ + ": " + last_error_};
        deallocate_released();
        int params = 0;
        const std::string text = to_dollar_params(sql, params);
        std::string name = "em_" + std::to_string(++statements_);
        ResultPtr r(PQprepare(conn_.get(), name.c_str(), text.c_str(), 0, nullptr));
        if (!good(r.get()))
            return Error{"cannot prepare statement in " + where_ + ": " + last_error_};
        return std::unique_ptr<StatementImpl>(
            std::make_unique<PgStatement>(*this, name, text, params, session_));
    }

    std::string last_error() const override { return last_error_; }
    Result<void> begin() override { return exec("BEGIN"); }
    bool in_transaction() const override {
        if (!connected()) return lost_in_tx_;
        return queued_ > 0 || PQtransactionStatus(conn_.get()) != PQTRANS_IDLE;
    }
    void rollback() override {
        (void)sync();  // the failure, if any, is what the rollback undoes
        if (!connected()) {
            lost_in_tx_ = false;  // the server rolled it back when the connection went
            return;
        }
        ResultPtr r(PQexec(conn_.get(), "ROLLBACK"));
        note_transaction();
    }

    // Session settings, on every new connection: names in pg_stat_activity, blobs in the hex
    // form blob() decodes, UTF8 text, no writes on a read-only store.
    Result<void> set_up_session() {
        if (PQsetClientEncoding(conn_.get(), "UTF8") != 0)
            return Error{"cannot use UTF8 with " + where_ + ": " +
                         trimmed(PQerrorMessage(conn_.get()))};
        std::string sql = "SET application_name = 'egress-monitor'; SET bytea_output = 'hex'";
        if (read_only_) sql += "; SET default_transaction_read_only = on";
        ResultPtr r(PQexec(conn_.get(), sql.c_str()));
        if (!good(r.get())) return Error{last_error_ + " in " + where_};
        return {};
    }

    Result<void> queue(StatementImpl& impl) override {
        auto& st = static_cast<PgStatement&>(impl);
        if (!usable() || !prepared(st)) {
            st.reset();
            return Error{"statement failed in " + where_ + ": " + last_error_};
        }
        if (PQtransactionStatus(conn_.get()) == PQTRANS_IDLE && queued_ == 0) {
            // Outside a transaction each statement stands alone: run it now.
            const Step s = st.step();
            st.reset();
            if (s == Step::Failed)
                return Error{"statement failed in " + where_ + ": " + last_error_};
            return {};
        }
        if (!st.bind_error_.empty()) {
            last_error_ = st.bind_error_;
            st.reset();
            return Error{"statement failed in " + where_ + ": " + last_error_};
        }
        if (queued_ == 0 && PQenterPipelineMode(conn_.get()) != 1) {
            last_error_ = trimmed(PQerrorMessage(conn_.get()));
            st.reset();
            return Error{"cannot queue a statement in " + where_ + ": " + last_error_};
        }
        Params p(st);
        const int sent =
            PQsendQueryPrepared(conn_.get(), st.name_.c_str(), p.count(), p.values.data(),
                                p.lengths.data(), st.formats_.data(), 0);
        st.reset();
        ++queued_;  // counted even if not sent: sync() leaves pipeline mode
        if (sent != 1) {
            last_error_ = trimmed(PQerrorMessage(conn_.get()));
            (void)sync();
            return Error{"cannot queue a statement in " + where_ + ": " + last_error_};
        }
        if (queued_ >= kMaxQueued && !sync())
            return Error{"statement failed in " + where_ + ": " + last_error_};
        return {};
    }

    Result<int64_t> schema_version() override {
        if (!usable() || !sync())
            return Error{"cannot read the schema version in " + where_ + ": " + last_error_};
        ResultPtr r(PQexec(conn_.get(), "SELECT to_regclass('em_schema') IS NOT NULL"));
        if (!good(r.get()) || PQntuples(r.get()) != 1)
            return Error{"cannot read the schema version in " + where_ + ": " + last_error_};
        if (PQgetvalue(r.get(), 0, 0)[0] != 't') return int64_t{0};
        r.reset(PQexec(conn_.get(), "SELECT coalesce(max(version), 0) FROM em_schema"));
        if (!good(r.get()) || PQntuples(r.get()) != 1)
            return Error{"cannot read the schema version in " + where_ + ": " + last_error_};
        return static_cast<int64_t>(std::strtoll(PQgetvalue(r.get(), 0, 0), nullptr, 10));
    }
    Result<void> set_schema_version(int64_t v) override {
        return exec(
            "CREATE TABLE IF NOT EXISTS em_schema (version BIGINT NOT NULL);"
            "DELETE FROM em_schema; INSERT INTO em_schema VALUES (" +
            std::to_string(v) + ")");
    }

    // Runs `st` with its bound parameters; the result is the statement's.
    Step run(PgStatement& st) {
        if (!usable() || !sync() || !prepared(st)) return Step::Failed;
        if (!st.bind_error_.empty()) {
            last_error_ = st.bind_error_;
            return Step::Failed;
        }
        Params p(st);
        st.result_.reset(PQexecPrepared(conn_.get(), st.name_.c_str(), p.count(), p.values.data(),
                                        p.lengths.data(), st.formats_.data(), 0));
        if (!good(st.result_.get())) return Step::Failed;
        st.rows_ = PQntuples(st.result_.get());
        st.blobs_.assign(static_cast<size_t>(PQnfields(st.result_.get())), std::string());
        return Step::Row;  // step() walks the rows
    }

    void release(std::string name) { released_.push_back(std::move(name)); }

  private:
    // A statement's parameters as libpq takes them.
    struct Params {
        explicit Params(const PgStatement& st) : values(st.values_.size()), lengths(values.size()) {
            for (size_t k = 0; k < values.size(); ++k) {
                values[k] = st.null_[k] ? nullptr : st.values_[k].c_str();
                lengths[k] = static_cast<int>(st.values_[k].size());
            }
        }
        int count() const { return static_cast<int>(values.size()); }
        std::vector<const char*> values;
        std::vector<int> lengths;
    };

    // Drains the pipeline of queued statements and leaves pipeline mode; false (last_error_
    // set) when one of them failed, or the connection did. Once a statement failed the server
    // skips the rest (PGRES_PIPELINE_ABORTED), and the transaction is aborted.
    bool sync() {
        if (queued_ == 0) return true;
        std::string failure;
        const bool synced = PQpipelineSync(conn_.get()) == 1;
        if (!synced) failure = trimmed(PQerrorMessage(conn_.get()));
        // Each statement's results end with a NULL; the sync point's result ends the pipeline.
        size_t ended = 0;
        while (synced) {
            ResultPtr r(PQgetResult(conn_.get()));
            if (!r) {
                if (++ended > queued_) break;  // nothing more is coming
                continue;
            }
            const ExecStatusType s = PQresultStatus(r.get());
            if (s == PGRES_PIPELINE_SYNC) break;
            if (s == PGRES_FATAL_ERROR && failure.empty())
                failure = trimmed(PQresultErrorMessage(r.get()));
            if (PQstatus(conn_.get()) != CONNECTION_OK) {
                if (failure.empty()) failure = trimmed(PQerrorMessage(conn_.get()));
                break;
            }
        }
        queued_ = 0;
        if (PQexitPipelineMode(conn_.get()) != 1) {
            // Results the server never sent (the connection broke mid-pipeline): the connection
            // cannot be used again; usable() makes a new one.
            broken_ = true;
            if (failure.empty()) failure = trimmed(PQerrorMessage(conn_.get()));
        }
        note_transaction();
        if (failure.empty()) return true;
        last_error_ = "a queued statement failed: " + failure;
        return false;
    }

    // False (last_error_ set) when the connection is lost and cannot be made again now:
    // inside a transaction, until the caller rolls back; outside, when the server does not
    // answer. A new connection gets the session settings; statements are prepared again on it
    // as they are next used (prepared()).
    bool usable() {
        if (connected()) return true;
        if (lost_in_tx_) {
            last_error_ = "the connection was lost inside a transaction (roll it back)";
            return false;
        }
        queued_ = 0;
        broken_ = false;
        released_.clear();  // the server forgot them with the session
        PQreset(conn_.get());
        // A pipeline the loss broke is still open on the reset connection, now idle.
        if (PQpipelineStatus(conn_.get()) != PQ_PIPELINE_OFF) (void)PQexitPipelineMode(conn_.get());
        if (PQstatus(conn_.get()) != CONNECTION_OK) {
            last_error_ = "lost the connection and cannot connect again: " +
                          trimmed(PQerrorMessage(conn_.get()));
            return false;
        }
        ++session_;
        if (auto r = set_up_session(); !r) {
            last_error_ = r.error().message;
            return false;
        }
        return true;
    }
    // `st` exists on this connection (prepared again after a new connection).
    bool prepared(PgStatement& st) {
        if (st.session_ == session_) return true;
        if (!sync()) return false;  // PQprepare waits for its answer: not inside a pipeline
        ResultPtr r(PQprepare(conn_.get(), st.name_.c_str(), st.sql_.c_str(), 0, nullptr));
        if (!good(r.get())) return false;
        st.session_ = session_;
        return true;
    }
    // Whether a transaction is open, as the server last said: what a lost connection lost.
    void note_transaction() {
        const PGTransactionStatusType t = PQtransactionStatus(conn_.get());
        if (t != PQTRANS_UNKNOWN) lost_in_tx_ = t != PQTRANS_IDLE;
    }

    bool connected() const { return !broken_ && PQstatus(conn_.get()) == CONNECTION_OK; }

    bool good(PGresult* r) {
        const ExecStatusType s = PQresultStatus(r);
        note_transaction();
        if (r && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)) return true;
        last_error_ = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_.get()));
        if (last_error_ == "unknown error") last_error_ = trimmed(PQerrorMessage(conn_.get()));
        if (!connected())
            last_error_ =
                "lost the connection (made again at the next call outside a "
                "transaction): " +
                last_error_;
        return false;
    }
    // Prepared statements whose Statement is gone, dropped while no transaction is open.
    void deallocate_released() {
        if (released_.empty() || PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) return;
        std::string sql;
        for (const auto& name : released_) sql += "DEALLOCATE " + name + ";";
        released_.clear();
        ResultPtr r(PQexec(conn_.get(), sql.c_str()));
        (void)good(r.get());
    }

    ConnPtr conn_;
    std::string where_;
    std::string last_error_;
    uint64_t statements_ = 0;
    std::vector<std::string> released_;
    size_t queued_ = 0;  // statements sent in pipeline mode and not yet drained
    bool read_only_;
    uint64_t session_ = 0;     // connections made again
    bool lost_in_tx_ = false;  // a transaction was open when the server last answered
    bool broken_ = false;      // left in pipeline mode by a loss libpq has not noticed yet
};

PgStatement::~PgStatement() { db_.release(std::move(name_)); }

Step PgStatement::step() {
    if (!ran_) {
        ran_ = true;
        if (db_.run(*this) == Step::Failed) return Step::Failed;
    }
    if (row_ < rows_) ++row_;
    return row_ < rows_ ? Step::Row : Step::Done;
}

void ignore_notice(void*, const char*) {}

}  // namespace

Result<std::unique_ptr<DatabaseImpl>> open_postgres(const std::string& url, bool read_only) {
    const std::string where = redact_url(url);
    ConnPtr conn(PQconnectdb(url.c_str()));
    if (!conn) return Error{"cannot connect to " + where + ": out of memory"};
    if (PQstatus(conn.get()) != CONNECTION_OK)
        return Error{"cannot connect to " + where + ": " + trimmed(PQerrorMessage(conn.get()))};
    PQsetNoticeProcessor(conn.get(), ignore_notice, nullptr);
    auto db = std::make_unique<PgDatabase>(std::move(conn), where, read_only);
    if (auto r = db->set_up_session(); !r) return r.error();
    return std::unique_ptr<DatabaseImpl>(std::move(db));
}

}  // namespace em::store
