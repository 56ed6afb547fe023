#pragma once
// The egress-monitor command line: parses argv, dispatches to a subcommand, and returns the
// process exit status. Fatal errors print one line on stderr.
namespace em {
int run_cli(int argc, char** argv);
}
