#pragma once
// The `serve`, `collect` and `report` subcommands.
#include <CLI/CLI.hpp>

#include <memory>

namespace em {

struct CollectorFlags;
std::shared_ptr<CollectorFlags> add_collector_commands(CLI::App& app);
/// Runs whichever of the three was parsed; -1 when none was.
int run_collector_commands(CLI::App& app, const CollectorFlags& flags);

}  // namespace em
