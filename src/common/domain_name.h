#pragma once
// Go's net.isDomainName (go 1.25): what egress-eddie, and so `enforce`, accepts as a host name
// (then refusing a trailing dot), and what `rules --format enforce` may write into a config.
// Labels of 1 to 63 letters, digits, '-' or '_', not starting or ending with '-', not all
// digits; at most 253 bytes (254 with a trailing dot); "." alone is a name.
#include <string_view>

namespace em {

bool go_is_domain_name(std::string_view s);

}  // namespace em
