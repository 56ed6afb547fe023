#pragma once
// The `agent` and `replay` subcommands: flags, config file, and the call into src/agent.
#include <CLI/CLI.hpp>

namespace em {

struct AgentFlags;
/// Registers both subcommands on `app`; the returned object keeps the parsed flags.
std::shared_ptr<AgentFlags> add_agent_commands(CLI::App& app);
/// Runs whichever of the two was parsed; -1 when neither was.
int run_agent_commands(CLI::App& app, const AgentFlags& flags);

}  // namespace em
