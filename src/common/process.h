#pragma once
// Running a helper program (nft, iptables) and waiting for it: no shell, argv as given,
// `input` written to its stdin. The error names the command and carries what it printed on
// stderr, so "nft: Error: syntax error ..." reaches the operator as is.
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace em {

/// Runs argv[0] (looked up in PATH, then /usr/sbin and /sbin) and returns its stdout.
Result<std::string> run_command(const std::vector<std::string>& argv, std::string_view input = {});
/// The full path of `program` in PATH, /usr/sbin or /sbin; empty when absent.
std::string find_program(const std::string& program);

}  // namespace em
