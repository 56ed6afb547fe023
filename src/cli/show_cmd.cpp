#include "cli/show_cmd.h"

#include <cstdio>
#include <string>

#include "cli/show_render.h"
#include "common/log.h"

namespace em {

struct ShowFlags {
    std::string by = "process";
    std::string state_dir = "/var/lib/egress-monitor";
    std::string format = "text";
};

std::shared_ptr<ShowFlags> add_show_command(CLI::App& app) {
    auto f = std::make_shared<ShowFlags>();
    auto* sub = app.add_subcommand(
        "show", "Print who talks to what: per process, domain or address, from the ledger");
    sub->add_option("--by", f->by, "group by process, domain or ip")
        ->check(CLI::IsMember({"process", "domain", "ip"}))
        ->capture_default_str();
    sub->add_option("--state-dir", f->state_dir, "the ledger to read")->capture_default_str();
    sub->add_option("--format", f->format, "text or json")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    return f;
}

int run_show_command(CLI::App& app, const ShowFlags& f) {
    CLI::App* sub = app.get_subcommand("show");
    if (!sub->parsed()) return -1;
    auto in = load_show_input(f.state_dir);
    if (!in) {
        log_error("show: {}", in.error().message);
        return 1;
    }
    if (in->uses.empty()) {
        // Not an error: the ledger is fine, it just has nothing per process (yet).
        log_warn(
            "show: no per-process data in {}: run the agent with --source ebpf or "
            "attribute_processes = true",
            in->source);
        return 0;
    }
    ShowBy by = f.by == "domain" ? ShowBy::domain : f.by == "ip" ? ShowBy::ip : ShowBy::process;
    std::string text = render_show(*in, by, f.format == "json");
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace em
