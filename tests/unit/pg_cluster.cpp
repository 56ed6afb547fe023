#include "pg_cluster.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace em::test {

PgCluster::PgCluster() {
    std::string tmpl = "/tmp/em-pg.XXXXXX";
    if (!mkdtemp(tmpl.data())) {
        why_ = "cannot create a temporary directory";
        return;
    }
    dir_ = tmpl;
    const std::string cmd = std::string("sh ") + EM_PG_CLUSTER + " start " + dir_;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) {
        why_ = "cannot run " + cmd;
        return;
    }
    std::array<char, 512> buf{};
    std::string out;
    while (fgets(buf.data(), buf.size(), p)) out += buf.data();
    const int status = pclose(p);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        url_ = out;
        return;
    }
    missing_ = WIFEXITED(status) && WEXITSTATUS(status) == 77;
    why_ = cmd + " failed (see its messages above)";
}

PgCluster::~PgCluster() {
    if (dir_.empty()) return;
    const std::string cmd = std::string("sh ") + EM_PG_CLUSTER + " stop " + dir_;
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "pg_cluster: %s failed\n", cmd.c_str());
}

}  // namespace em::test
