// The dashboard's alert actions: what `egress-monitor alerts ack|silence|allow` does, from a
// form, checked and audited the same way (collector/actions.h).
#include <fmt/core.h>

#include <algorithm>
#include <charconv>

#include "common/duration.h"
#include "dashboard/html_parts.h"
#include "dashboard/pages.h"

namespace em {

namespace {

Page refused(std::string_view what) { return page_parts::not_found("not done", what, 400); }

std::string field(const std::map<std::string, std::string>& form, const char* name) {
    auto it = form.find(name);
    return it == form.end() ? "" : it->second;
}

}  // namespace

Page post_action(std::string_view path, const std::map<std::string, std::string>& form,
                 AlertBook& book, OperatorActions& actions, const std::string& who, int64_t now,
                 std::string& location) {
    const std::string id_text = field(form, "id");
    int64_t id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || end != id_text.data() + id_text.size() || id <= 0)
        return refused("The form names no incident.");
    auto open = book.open_alerts();
    if (!open) return page_parts::failed(open.error().message);
    auto it =
        std::find_if(open->begin(), open->end(), [&](const AlertRecord& a) { return a.id == id; });
    if (it == open->end()) return refused(fmt::format("Incident #{} is not open (any more).", id));
    const AlertRecord& a = *it;
    const std::string why = field(form, "why");
    if (why.empty() || why.size() > 500)
        return refused("Say why (up to 500 bytes): it is kept in the audit log.");

    std::string done;
    if (path == "/alert/ack") {
        auto r = actions.ack(id, who, why, now);
        if (!r) return refused(r.error().message);
        done = "ack";
    } else if (path == "/alert/silence") {
        auto seconds = parse_period_s(field(form, "for"));
        if (!seconds) return refused(seconds.error().message);
        const std::string scope = field(form, "scope");
        Silence s;
        s.host = a.host;
        if (scope == "key" || scope == "rule") s.rule = a.rule;
        if (scope == "key") s.key = a.key;
        if (scope != "key" && scope != "rule" && scope != "host")
            return refused("Choose what the silence matches.");
        s.who = who;
        s.why = why;
        auto r = actions.silence(s, *seconds, now);
        if (!r) return refused(r.error().message);
        done = "silence";
    } else if (path == "/alert/allow") {
        if (!allowable(a.rule))
            return refused("The allow list explains new_domain and direct_ip alerts only.");
        // A fleet alert is explained by an entry for every host only.
        const bool every = field(form, "every_host") == "1" || a.host == kFleetHost;
        auto r = actions.allow(field(form, "value"), every ? "" : a.host, who, why, now);
        if (!r) return refused(r.error().message);
        done = "allow";
    } else {
        return page_parts::not_found("no such action", "There is no such action.");
    }
    location = fmt::format("/alert?id={}&done={}", id, done);
    return Page{303, "", ""};
}

}  // namespace em
