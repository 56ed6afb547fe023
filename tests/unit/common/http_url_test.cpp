#include "common/http_url.h"

#include <gtest/gtest.h>

namespace em {

TEST(HttpUrl, SchemeHostPortPath) {
    auto u = parse_http_url("HTTPS://[2001:db8::1]:8443/base/", "url");
    ASSERT_TRUE(u.ok()) << u.error().message;
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "2001:db8::1");
    EXPECT_EQ(u->port, 8443);
    EXPECT_EQ(u->path, "/base");
    auto d = parse_http_url("http://web1.example", "url");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->port, 80);
    EXPECT_EQ(d->path, "");
}

TEST(HttpUrl, QueryOnlyWhenAllowed) {
    auto no = parse_http_url("https://hooks.example/x?token=a", "webhook URL");
    ASSERT_FALSE(no.ok());
    EXPECT_EQ(no.error().message,
              "bad webhook URL 'https://hooks.example/x?token=a': query strings are not supported");
    auto yes = parse_http_url("https://hooks.example/x/?token=a", "webhook URL", true);
    ASSERT_TRUE(yes.ok()) << yes.error().message;
    EXPECT_EQ(yes->host, "hooks.example");
    EXPECT_EQ(yes->path, "/x/?token=a");
    auto bare = parse_http_url("https://hooks.example?token=a", "webhook URL", true);
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare->path, "/?token=a");
    EXPECT_FALSE(parse_http_url("https://hooks.example/x#frag", "url", true).ok());
}

TEST(HttpUrl, ErrorsSayWhatIsWrong) {
    const std::pair<const char*, const char*> cases[] = {
        {"ftp://a", "scheme must be http or https"},
        {"https://u:p@a", "credentials in the URL are not supported"},
        {"https://a:0", "port must be a number from 1 to 65535"},
        {"https://a:99999", "port must be a number from 1 to 65535"},
        {"https://2001:db8::1/", "an IPv6 address must be written in brackets"},
        {"https://[2001:db8::1/", "unterminated [IPv6 address]"},
        {"https://[192.0.2.1]/", "not an IPv6 address in brackets"},
        {"https:///x", "no host"},
        {"https://a b", "contains white space or control characters"},
        {"a.example:80", "want http://host[:port][/path] or https://..."},
    };
    for (const auto& [url, why] : cases) {
        auto r = parse_http_url(url, "url");
        ASSERT_FALSE(r.ok()) << url;
        EXPECT_EQ(r.error().message, std::string("bad url '") + url + "': " + why);
    }
}

}  // namespace em
