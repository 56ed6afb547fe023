#include "scratch_store.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "pg_cluster.h"

namespace em::test {
namespace {

PgCluster& private_cluster() {
    static PgCluster c;  // started on first use, stopped at exit
    return c;
}

// `url` with its database name replaced by `name`.
std::string with_database(const std::string& url, const std::string& name) {
    const size_t scheme = url.find("://");
    const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    if (slash == std::string::npos) return url + "/" + name;
    const size_t end = url.find('?', slash);
    return url.substr(0, slash + 1) + name + (end == std::string::npos ? "" : url.substr(end));
}

}  // namespace

ScratchStore::ScratchStore(store::Backend backend, const std::filesystem::path& dir) {
    if (backend == store::Backend::Sqlite) {
        target_ = (dir / "store.sqlite").string();
        return;
    }
    const bool root = geteuid() == 0;
    if (const char* env = std::getenv("EM_TEST_PG_URL"); env && *env) {
        admin_url_ = env;
    } else {
        if (private_cluster().url().empty()) {
            why_ = private_cluster().why();
            skip_ = private_cluster().missing() && !root;
            return;
        }
        admin_url_ = private_cluster().url();
    }
    static std::atomic<int> serial{0};
    database_ = "t_" + std::to_string(getpid()) + "_" + std::to_string(++serial);
    auto admin = store::Database::open(admin_url_);
    if (!admin) {
        why_ = "the tests' PostgreSQL server: " + admin.error().message;
        skip_ = !root;
        return;
    }
    if (auto r = admin->exec("CREATE DATABASE " + database_); !r) {
        why_ = r.error().message;
        return;
    }
    target_ = with_database(admin_url_, database_);
}

ScratchStore::~ScratchStore() {
    if (database_.empty() || target_.empty()) return;
    auto admin = store::Database::open(admin_url_);
    if (admin) (void)admin->exec("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
}

std::string backend_name(const ::testing::TestParamInfo<store::Backend>& info) {
    return info.param == store::Backend::Sqlite ? "Sqlite" : "Postgres";
}

}  // namespace em::test
