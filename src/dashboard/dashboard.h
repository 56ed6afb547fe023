#pragma once
// `egress-monitor dashboard`: the fleet in a browser, served from the collector's history on
// the hardened HTTP(S) server `serve` uses (exporters/http/daemon.h: bounded connections,
// memory and time per client; bodies only for the actions' forms, at most 4 KiB). It reads
// the history; the only writes are the alert actions, recorded and audited exactly as
// `egress-monitor alerts` records them (collector/actions.h).
//
//   GET /                      the overview: summary, open alerts by rule, hosts
//                              (?tag=T filters, ?sort=status|last_ok|domains|ips|alerts)
//   GET /host?name=H[&q=S]     one host: status, alerts, growth chart, its domains and
//                              addresses (filtered by S), recent events
//   GET /domain?name=D         one domain: which hosts, since when, how much, fleet rarity
//   GET /ip?addr=A             one address: which hosts, and the names that resolved to it
//   GET /search?q=S            hosts, domains and addresses containing S
//   GET /alerts                open incidents by rule, those resolved in the last 7 days,
//                              the silences in force
//   GET /alert?id=N            one incident, with the forms of its actions
//   POST /alert/ack, /alert/silence, /alert/allow
//                              the actions (form fields as /alert writes them: id, why, the
//                              anti-forgery value, and scope/for or value/every_host); 303 to
//                              the incident's page when done, 400 saying why when refused,
//                              403 without the anti-forgery value or from another site
//   GET /healthz               200 "ok" (no credentials needed)
// Every other path needs credentials: the shared token (token_file) as the password of HTTP
// Basic (any user name; a browser asks for it) or as "Authorization: Bearer <token>",
// compared in constant time, or a named login's own token (users_file, dashboard/users.h)
// with that login's name, or alone as a Bearer; 401 otherwise. The audit log records a
// login's verified name ("alice (dashboard login)"), or the Basic user name the shared token
// came with ("alice (dashboard)", a claim). Pages carry no script and a
// Content-Security-Policy of default-src 'none'.
#include <memory>
#include <string>

#include "collector/collector_config.h"
#include "common/result.h"
#include "exporters/http/daemon.h"

namespace em {

class Dashboard {
  public:
    /// Opens the history (`history_path`), reads the token and TLS files, binds, drops to
    /// `cfg.user` if set, and serves. Errors name the file or the address.
    static Result<std::unique_ptr<Dashboard>> start(const DashboardConfig& cfg,
                                                    const std::string& history_path,
                                                    http::Limits limits = {});
    ~Dashboard();
    void stop();
    int port() const;

    struct Impl;

  private:
    explicit Dashboard(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace em
