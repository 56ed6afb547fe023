#pragma once
// http(s) URLs as the project's clients take them (the Loki pusher, the collector's hosts,
// the webhook): scheme://host[:port][/path], the host a name or an IPv6 literal in brackets;
// no credentials or fragment, and no query unless asked for.
#include <string>
#include <string_view>

#include "common/result.h"

namespace em {

struct HttpUrl {
    std::string scheme;  // "https" or "http", lower case
    std::string host;    // without brackets
    int port = 0;        // the scheme's default when absent
    std::string path;    // without a trailing slash (often empty)
};

/// Parses `url`; errors read "bad <what> '<url>': <why>" (`what`: "url", "Loki URL", ...).
/// With `query_allowed` a query string stays part of `path` (a webhook's "?token=...").
Result<HttpUrl> parse_http_url(const std::string& url, std::string_view what,
                               bool query_allowed = false);

}  // namespace em
