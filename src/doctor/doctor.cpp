#include "doctor/doctor.h"

#include <fmt/core.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string_view>

#include "common/ascii.h"
#include "common/files.h"
#include "common/ip_address.h"
#include "common/time.h"
#include "common/token_file.h"
#include "core/ledger_view.h"
#include "exporters/http/daemon.h"
#include "format/aggregate.h"
#include "format/parser.h"
#include "net/http_client/http_client.h"

namespace em {

namespace {

using Status = DoctorCheck::Status;

DoctorCheck make(std::string name, Status s, std::string detail, std::string fix = {}) {
    return DoctorCheck{std::move(name), s, std::move(detail), std::move(fix)};
}

std::string age_text(int64_t seconds) {
    if (seconds < 120) return fmt::format("{} s", seconds);
    if (seconds < 7200) return fmt::format("{} min", seconds / 60);
    if (seconds < 2 * 86400) return fmt::format("{} h", seconds / 3600);
    return fmt::format("{} days", seconds / 86400);
}

DoctorCheck check_config(const DoctorInput& in) {
    if (!in.config_error.empty())
        return make("config", Status::fail, in.config_error,
                    "correct the file: every other check reads its settings");
    struct stat st {};
    if (::stat(in.config_path.c_str(), &st) != 0)
        return make("config", Status::ok, in.config_path + " absent: built-in defaults");
    return make("config", Status::ok, "read " + in.config_path);
}

DoctorCheck check_resolver(const DoctorInput& in) {
    if (in.mode == DoctorMode::agent)
        return make("resolver", Status::skip,
                    "agent mode: the agent sees DNS on the wire, whichever resolver is used");
    auto text =
        read_file_limited(in.resolv_conf, 64 * 1024,
                          {"cannot read " + in.resolv_conf, in.resolv_conf + ": too large"});
    if (!text)
        return make("resolver", Status::fail, text.error().message,
                    "point the resolver at dnsmasq: nameserver 127.0.0.1 (install.sh does)");
    return check_resolver_text(*text, in.resolv_conf);
}

DoctorCheck check_dnsmasq_log(const DoctorInput& in) {
    if (in.mode == DoctorMode::agent)
        return make("dnsmasq log", Status::skip, "agent mode: no dnsmasq log is read");
    struct stat st {};
    if (::stat(in.dnsmasq_log.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return make("dnsmasq log", Status::fail, in.dnsmasq_log + " does not exist",
                    "dnsmasq must log queries there (log-queries=extra, log-facility in "
                    "/etc/dnsmasq.d/egress-monitor.conf); restart dnsmasq");
    const int64_t age = in.now - st.st_mtime;
    if (age > 86400)
        return make("dnsmasq log", Status::warn,
                    fmt::format("{}: last written {} ago", in.dnsmasq_log, age_text(age)),
                    "no query for a day: is dnsmasq running, and does the resolver point at it?");
    return make("dnsmasq log", Status::ok,
                fmt::format("{}: last written {} ago", in.dnsmasq_log, age_text(age)));
}

DoctorCheck check_log_rule(const DoctorInput& in) {
    if (in.mode == DoctorMode::agent)
        return make("log rule", Status::skip,
                    "agent mode: the agent captures itself (its table lives while it runs)");
    if (!in.command_succeeds) return make("log rule", Status::skip, "cannot run commands here");
    if (in.command_succeeds({"nft", "list", "table", "inet", "egress_monitor_log"}))
        return make("log rule", Status::ok, "nftables table inet egress_monitor_log is loaded");
    if (in.command_succeeds({"iptables", "-S", "EGRESS_MONITOR"}))
        return make("log rule", Status::ok, "iptables chain EGRESS_MONITOR is loaded");
    return make("log rule", Status::fail,
                "neither nftables table inet egress_monitor_log nor iptables chain "
                "EGRESS_MONITOR is loaded: no new flow is logged, unique-ips.log stays still",
                "load it: /usr/local/lib/egress-monitor/load-firewall.sh (install.sh runs it at "
                "boot from cron's @reboot)");
}

// The ledger and the two files together: the files are rendered from the ledger.
void check_ledger_and_files(const DoctorInput& in, std::vector<DoctorCheck>& out) {
    const std::string path = in.state_dir + "/ledger.sqlite";
    LedgerSnapshot lv = read_ledger_snapshot(path);
    const char* producer = in.mode == DoctorMode::cron
                               ? "cron runs consolidate every minute: check /etc/cron.d/"
                                 "egress-monitor and cron's mail"
                               : "start the agent (systemctl start egress-monitor-agent)";
    if (!lv.error.empty()) {
        out.push_back(make("ledger", Status::fail, lv.error,
                           "the ledger must be readable by root and by the endpoint's group"));
    } else if (!lv.present) {
        out.push_back(
            make("ledger", Status::fail, path + " does not exist: nothing counted yet", producer));
    } else {
        out.push_back(make("ledger", Status::ok,
                           fmt::format("{}: generation {}, {} counters", path,
                                       lv.generations["commit_generation"], lv.counters.size())));
    }
    for (const char* name : {kDomainsFile, kIpsFile}) {
        const std::string file = in.output_dir + "/" + name;
        struct stat st {};
        if (::stat(file.c_str(), &st) != 0) {
            out.push_back(make(name, Status::fail, file + " does not exist", producer));
            continue;
        }
        SnapshotLimits limits;
        auto text = read_file_limited(file, limits.max_bytes,
                                      {"cannot read " + file, file + ": larger than the limit"});
        if (!text) {
            out.push_back(make(name, Status::fail, text.error().message,
                               "collectors cannot read it either: check its owner and mode"));
            continue;
        }
        // Strictly, as the collector reads it.
        size_t lines = 0;
        std::string error;
        if (std::string_view(name) == kDomainsFile) {
            auto r = parse_domains_file(*text, file, limits);
            if (r)
                lines = r->size();
            else
                error = r.error().message;
        } else {
            auto r = parse_ips_file(*text, file, limits);
            if (r)
                lines = r->size();
            else
                error = r.error().message;
        }
        if (!error.empty()) {
            out.push_back(make(name, Status::fail, error,
                               "collectors reject the host while the file is malformed: report it "
                               "as a bug, and remove the file (the next run writes it again)"));
            continue;
        }
        std::string detail =
            fmt::format("{} lines, written {} ago", lines, age_text(in.now - st.st_mtime));
        const int64_t committed =
            lv.generations.count("commit_generation") ? lv.generations.at("commit_generation") : 0;
        const int64_t rendered = lv.generations.count("rendered_generation")
                                     ? lv.generations.at("rendered_generation")
                                     : 0;
        if (lv.present && rendered < committed) {
            out.push_back(make(name, Status::warn,
                               detail + fmt::format(" (the ledger is at generation {}, the files "
                                                    "at {})",
                                                    committed, rendered),
                               "the next run renders them; if this stays, look at the "
                               "producer's errors (cron mail, the agent's log)"));
            continue;
        }
        out.push_back(make(name, Status::ok, detail));
    }
}

// What the endpoint is reached as, so that its certificate verifies: the first DNS name of
// its subjectAltName that is no wildcard, else its first IP address.
struct CertificateName {
    std::string name;
    bool ip = false;
};

CertificateName certificate_name(const std::string& path) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "re"), &std::fclose);
    if (!f) return {};
    std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr),
                                                &X509_free);
    if (!cert) return {};
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
    if (!names) return {};
    std::string dns, ip;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_DNS && dns.empty()) {
            const unsigned char* p = ASN1_STRING_get0_data(g->d.dNSName);
            std::string n(reinterpret_cast<const char*>(p),
                          static_cast<size_t>(ASN1_STRING_length(g->d.dNSName)));
            if (n.find('*') == std::string::npos) dns = n;
        } else if (g->type == GEN_IPADD && ip.empty()) {
            const int n = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char* b = ASN1_STRING_get0_data(g->d.iPAddress);
            if (n == 4)
                ip = IpAddress::v4(uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 |
                                   uint32_t{b[2]} << 8 | b[3])
                         .to_string();
            else if (n == 16)
                ip = IpAddress::v6(b).to_string();
        }
    }
    GENERAL_NAMES_free(names);
    if (!dns.empty()) return {dns, false};
    return {ip, !ip.empty()};
}

DoctorCheck check_endpoint(const DoctorInput& in) {
    if (in.serve_listen.empty())
        return make("endpoint", Status::skip, "no [serve] endpoint configured");
    auto token = read_token_file(in.serve_token_file);
    if (!token) return make("endpoint", Status::fail, token.error().message, "see the message");
    auto listen = http::parse_listen(in.serve_listen);
    if (!listen)
        return make("endpoint", Status::fail, listen.error().message, "correct [serve] listen");
    // The wildcard addresses are reached on loopback.
    std::string addr = listen->host == "0.0.0.0" ? "127.0.0.1"
                       : listen->host == "::"    ? "::1"
                                                 : listen->host;
    net::HttpClientOptions opt;
    opt.max_body_bytes = 4u << 20;
    opt.truncate_body = true;
    std::string host = addr;
    if (!in.serve_plain_http) {
        opt.ca_file = in.serve_cert;  // the endpoint's own certificate, self-signed or not
        const CertificateName cert = certificate_name(in.serve_cert);
        if (cert.name.empty())
            return make("endpoint", Status::fail,
                        "cannot read a subjectAltName from " + in.serve_cert,
                        "the certificate must name the host (install.sh makes one that does)");
        host = cert.name;
        // A name is connected to at the listen address; an IP address is connected to itself.
        if (!cert.ip)
            opt.resolve.push_back(
                fmt::format("{}:{}:{}", cert.name, listen->port,
                            addr.find(':') != std::string::npos ? "[" + addr + "]" : addr));
    }
    auto client = net::HttpClient::create(opt);
    if (!client) return make("endpoint", Status::fail, client.error().message, "");
    net::HttpRequest req;
    const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    req.url = fmt::format("{}://{}:{}/v1/summary.json", in.serve_plain_http ? "http" : "https",
                          shown, listen->port);
    req.headers.push_back("Authorization: Bearer " + *token);
    req.deadline = net::Clock::now() + std::chrono::seconds(5);
    net::HttpResponse res = (*client)->perform(req);
    if (!res.ok())
        return make("endpoint", Status::fail, req.url + ": " + res.error(),
                    "is serve running (or the agent with serve_in_agent)? systemctl status "
                    "egress-monitor-serve; a certificate error means [serve] tls_cert is not the "
                    "certificate the endpoint presents");
    if (res.status == 401)
        return make("endpoint", Status::fail,
                    req.url + ": 401 with the token of " + in.serve_token_file,
                    "the endpoint reads another token file: restart it after changing the token");
    if (res.status != 200)
        return make("endpoint", Status::fail, fmt::format("{}: HTTP {}", req.url, res.status),
                    "see the endpoint's log");
    return make("endpoint", Status::ok, req.url + " answers with the token");
}

}  // namespace

const char* doctor_status_name(Status s) {
    switch (s) {
        case Status::ok:
            return "ok";
        case Status::warn:
            return "WARN";
        case Status::fail:
            return "FAIL";
        case Status::skip:
            return "skip";
    }
    return "?";
}

DoctorCheck check_resolver_text(const std::string& text, const std::string& path) {
    std::string_view rest = text;
    while (!rest.empty()) {
        size_t nl = rest.find('\n');
        std::string_view line = trim_space(rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        if (!line.starts_with("nameserver")) continue;
        std::string_view server = trim_space(line.substr(10));
        if (server == "127.0.0.1" || server == "::1")
            return make("resolver", Status::ok,
                        fmt::format("{} asks {} (dnsmasq) first", path, server));
        if (server == "127.0.0.53") {
            struct stat st {};
            if (::stat("/etc/systemd/resolved.conf.d/egress-monitor.conf", &st) == 0)
                return make("resolver", Status::ok,
                            path +
                                " asks systemd-resolved, which forwards to dnsmasq "
                                "(/etc/systemd/resolved.conf.d/egress-monitor.conf)");
            return make("resolver", Status::fail,
                        path + " asks systemd-resolved, which does not forward to dnsmasq",
                        "set DNS=127.0.0.1 in a resolved.conf drop-in (install.sh does), or run "
                        "install.sh again");
        }
        return make("resolver", Status::fail,
                    fmt::format("{} asks {} first, not dnsmasq: queries bypass the log", path,
                                std::string(server)),
                    "put \"nameserver 127.0.0.1\" first in " + path +
                        " (something rewrote it: DHCP, NetworkManager), or run install.sh again");
    }
    return make("resolver", Status::fail, path + " names no nameserver",
                "put \"nameserver 127.0.0.1\" in " + path);
}

std::vector<DoctorCheck> run_doctor(const DoctorInput& in) {
    std::vector<DoctorCheck> out;
    out.push_back(check_config(in));
    out.push_back(check_resolver(in));
    out.push_back(check_dnsmasq_log(in));
    out.push_back(check_log_rule(in));
    check_ledger_and_files(in, out);
    out.push_back(check_endpoint(in));
    return out;
}

std::string render_doctor(const std::vector<DoctorCheck>& checks) {
    std::string out;
    size_t width = 0;
    for (const auto& c : checks) width = std::max(width, c.name.size());
    size_t fails = 0, warns = 0;
    for (const auto& c : checks) {
        out += fmt::format("{:<5} {:<{}}  {}\n", doctor_status_name(c.status), c.name, width,
                           c.detail);
        if ((c.status == Status::fail || c.status == Status::warn) && !c.fix.empty())
            out += fmt::format("{:<5} {:<{}}  fix: {}\n", "", "", width, c.fix);
        fails += c.status == Status::fail;
        warns += c.status == Status::warn;
    }
    out += fails   ? fmt::format("{} to fix, {} to look at\n", fails, warns)
           : warns ? fmt::format("working; {} to look at\n", warns)
                   : std::string("all good\n");
    return out;
}

}  // namespace em
