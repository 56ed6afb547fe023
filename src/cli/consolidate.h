#pragma once
// `egress-monitor consolidate`: cron mode (cron/cron.h) with the settings of the config file
// and the command line, and its one-line account at info level.
#include "cli/config.h"

namespace em {

/// Runs cron mode; returns the exit status (0, or 1 after logging why it failed).
int run_consolidate(const ConsolidateConfig& cfg);

}  // namespace em
