#pragma once
// Small pieces the dashboard's pages share (pages.cpp, alert_pages.cpp): escaped text, links
// with a percent-encoded argument, and the error pages.
#include <fmt/core.h>

#include <string>
#include <string_view>

#include "collector/report_html.h"
#include "common/html_escape.h"
#include "dashboard/pages.h"

namespace em::page_parts {

inline void text(std::string_view s, std::string& out) { append_html_escaped(s, out); }

/// <a href="PATH?ARG=VALUE">VALUE</a>, VALUE percent-encoded in the link, escaped as text.
inline void link(std::string_view path, std::string_view arg, std::string_view value,
                 std::string& out) {
    out += fmt::format("<a href=\"{}?{}=", path, arg);
    append_url_component(value, out);
    out += "\">";
    text(value, out);
    out += "</a>";
}

/// 500: the history could not be read; `what` is logged, never shown.
inline Page failed(std::string what) { return Page{500, "", std::move(what)}; }

/// A page saying what was not found (404), or what was wrong with the request (`status`).
inline Page not_found(std::string_view title, std::string_view what, int status = 404) {
    Page p{status, "", ""};
    html_open(title, true, p.html);
    p.html += "<main><h1>";
    text(status == 404 ? "Not found" : "Not done", p.html);
    p.html += "</h1><p>";
    text(what, p.html);
    p.html += "</p>";
    html_close(p.html);
    return p;
}

}  // namespace em::page_parts
