#pragma once
// `egress-monitor alerts`: list, acknowledge, silence and allow, on the collector host
// (collector/actions.h has what each action means).
#include <CLI/CLI.hpp>

#include <memory>

namespace em {

struct AlertsFlags;
std::shared_ptr<AlertsFlags> add_alerts_command(CLI::App& app);
/// Runs `alerts` when it was parsed; -1 when it was not.
int run_alerts_command(CLI::App& app, const AlertsFlags& flags);

}  // namespace em
