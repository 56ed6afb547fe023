// egress-eddie's own config tests, ported: every case of `configTests` in its config_test.go
// (github.com/capnspacehook/egress-eddie, commit 01839249c1971b1a1c26cd8ac2810104532c8ff0),
// the config text verbatim. `enforce` accepts exactly the configs egress-eddie accepts, with
// the same fields, and rejects the others with egress-eddie's message, after our "path:line: "
// or "path: " location. No case is skipped and none differs: were one to, it would assert
// our behaviour here with a comment saying why.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "enforce/enforce_config.h"

namespace em {

namespace {

struct EddieErrorCase {
    const char* name;
    const char* config;
    const char* error;  // egress-eddie's expectedErr
};

// The cases with an expectedErr, in config_test.go's order.
const EddieErrorCase kEddieErrorCases[] = {
    {"unknown key", R"toml(foo=1)toml", R"toml(unknown keys "foo")toml"},
    {"empty", R"toml()toml", "at least one filter must be specified"},
    {"inboundDNSQueue not set", R"toml([[filters]])toml",
     R"toml("inboundDNSQueue" must be set)toml"},
    {"inboundDNSQueue not valid",
     R"toml(
inboundDNSQueue.ipv4 = 1
inboundDNSQueue.ipv6 = 1

[[filters]])toml",
     R"toml("inboundDNSQueue.ipv4" and "inboundDNSQueue.ipv6" cannot be the same)toml"},
    {"name not set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]])toml",
     R"toml(filter #0: "name" must be set)toml"},
    {"dnsQueue not set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo")toml",
     R"toml(filter "foo": "dnsQueue" must be set)toml"},
    {"dnsQueue not valid",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
dnsQueue.ipv6 = 1000)toml",
     R"toml(filter "foo": "dnsQueue.ipv4" and "dnsQueue.ipv6" cannot be the same)toml"},
    {"dnsQueue ipv4 not set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv6 = 1000)toml",
     R"toml(filter "foo": "dnsQueue.ipv4" must be set when "inboundDNSQueue.ipv4" is set)toml"},
    {"dnsQueue ipv4 set",
     R"toml(
inboundDNSQueue.ipv6 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
dnsQueue.ipv6 = 1010)toml",
     R"toml(filter "foo": "dnsQueue.ipv4" must not be set when "inboundDNSQueue.ipv4" is not set)toml"},
    {"dnsQueue ipv6 not set",
     R"toml(
inboundDNSQueue.ipv6 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000)toml",
     R"toml(filter "foo": "dnsQueue.ipv6" must be set when "inboundDNSQueue.ipv6" is set)toml"},
    {"dnsQueue ipv6 set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
dnsQueue.ipv6 = 1010)toml",
     R"toml(filter "foo": "dnsQueue.ipv6" must not be set when "inboundDNSQueue.ipv6" is not set)toml"},
    {"inboundDNSQueue and dnsQueue same",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1
		)toml",
     R"toml(filter "foo": "inboundDNSQueue" and "dnsQueue" must be different)toml"},
    {"inboundDNSQueue and dnsQueue same mixed",
     R"toml(
inboundDNSQueue.ipv4 = 1
inboundDNSQueue.ipv6 = 2

[[filters]]
name = "foo"
dnsQueue.ipv4 = 2
dnsQueue.ipv6 = 3
		)toml",
     R"toml(filter "foo": "inboundDNSQueue" and "dnsQueue" must be different)toml"},
    {"trafficQueue not set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000)toml",
     R"toml(filter "foo": "trafficQueue" must be set)toml"},
    {"trafficQueue not valid",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
trafficQueue.ipv6 = 1001)toml",
     R"toml(filter "foo": "trafficQueue.ipv4" and "trafficQueue.ipv6" cannot be the same)toml"},
    {"trafficQueue ipv4 not set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv6 = 1001)toml",
     R"toml(filter "foo": "trafficQueue.ipv4" must be set when "inboundDNSQueue.ipv4" is set)toml"},
    {"trafficQueue ipv4 set",
     R"toml(
inboundDNSQueue.ipv6 = 1

[[filters]]
name = "foo"
dnsQueue.ipv6 = 1010
trafficQueue.ipv4 = 1001
trafficQueue.ipv6 = 1011)toml",
     R"toml(filter "foo": "trafficQueue.ipv4" must not be set when "inboundDNSQueue.ipv4" is not set)toml"},
    {"trafficQueue ipv6 not set",
     R"toml(
inboundDNSQueue.ipv6 = 1

[[filters]]
name = "foo"
dnsQueue.ipv6 = 1000
trafficQueue.ipv4 = 1001)toml",
     R"toml(filter "foo": "trafficQueue.ipv6" must be set when "inboundDNSQueue.ipv6" is set)toml"},
    {"trafficQueue ipv6 set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
trafficQueue.ipv6 = 1011)toml",
     R"toml(filter "foo": "trafficQueue.ipv6" must not be set when "inboundDNSQueue.ipv6" is not set)toml"},
    {"inboundDNSQueue and trafficQueue same",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1
		)toml",
     R"toml(filter "foo": "inboundDNSQueue" and "trafficQueue" must be different)toml"},
    {"dnsQueue and trafficQueue same",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1000)toml",
     R"toml(filter "foo": "dnsQueue" and "trafficQueue" must be different)toml"},
    {"selfDNSQueue invalid",
     R"toml(
inboundDNSQueue.ipv4 = 1
inboundDNSQueue.ipv6 = 10
selfDNSQueue.ipv4 = 2
selfDNSQueue.ipv6 = 2

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
dnsQueue.ipv6 = 1010
trafficQueue.ipv4 = 1001
trafficQueue.ipv6 = 1011
lookupUnknownIPs = true
allowAnswersFor = "5s"
allowedHostnames = ["foo"])toml",
     R"toml("selfDNSQueue.ipv4" and "selfDNSQueue.ipv6" cannot be the same)toml"},
    {"selfDNSQueue ipv4 not set",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv6 = 2

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
lookupUnknownIPs = true
allowAnswersFor = "5s"
allowedHostnames = ["foo"])toml",
     R"toml("selfDNSQueue.ipv4" must be set when "inboundDNSQueue.ipv4" is set)toml"},
    {"selfDNSQueue ipv4 set",
     R"toml(
inboundDNSQueue.ipv6 = 1
selfDNSQueue.ipv4 = 2
selfDNSQueue.ipv6 = 3

[[filters]]
name = "foo"
dnsQueue.ipv6 = 1000
trafficQueue.ipv6 = 1001
lookupUnknownIPs = true
allowAnswersFor = "5s"
allowedHostnames = ["foo"])toml",
     R"toml("selfDNSQueue.ipv4" must not be set when "inboundDNSQueue.ipv4" is not set)toml"},
    {"selfDNSQueue ipv6 not set",
     R"toml(
inboundDNSQueue.ipv6 = 1
selfDNSQueue.ipv4 = 2

[[filters]]
name = "foo"
dnsQueue.ipv6 = 1000
trafficQueue.ipv6 = 1001
lookupUnknownIPs = true
allowAnswersFor = "5s"
allowedHostnames = ["foo"])toml",
     R"toml("selfDNSQueue.ipv6" must be set when "inboundDNSQueue.ipv6" is set)toml"},
    {"selfDNSQueue ipv6 set",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 2
selfDNSQueue.ipv6 = 3

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
lookupUnknownIPs = true
allowAnswersFor = "5s"
allowedHostnames = ["foo"])toml",
     R"toml("selfDNSQueue.ipv6" must not be set when "inboundDNSQueue.ipv6" is not set)toml"},
    {"inboundDNSQueue and selfDNSQueue same",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
lookupUnknownIPs = true
allowAnswersFor = "5s"
allowedHostnames = ["foo"])toml",
     R"toml("inboundDNSQueue" and "selfDNSQueue" must be different)toml"},
    {"trafficQueue and AllowAllHostnames set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAllHostnames = true)toml",
     R"toml(filter "foo": "trafficQueue" must not be set when "allowAllHostnames" is true)toml"},
    {"allowedHostnames empty",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001)toml",
     R"toml(filter "foo": "allowedHostnames" must not be empty)toml"},
    {"allowedHostnames not empty and allowAllHostnames is set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
allowAllHostnames = true
allowedHostnames = ["foo"])toml",
     R"toml(filter "foo": "allowedHostnames" must be empty when "allowAllHostnames" is true)toml"},
    {"allowedHostnames not empty and allowAnswersFor is not set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowedHostnames = ["foo"])toml",
     R"toml(filter "foo": "allowAnswersFor" must be set when "allowedHostnames" is not empty)toml"},
    {"allowAllHostnames set and allowAnswersFor is set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
allowAnswersFor = "5s"
allowAllHostnames = true)toml",
     R"toml(filter "foo": "allowAnswersFor" must not be set when "allowAllHostnames" is true)toml"},
    {"negative allowAnswersFor",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "-1m"
allowedHostnames = ["foo"])toml",
     R"toml(filter "foo": "allowAnswersFor" must not be negative)toml"},
    {"cachedHostnames not empty and allowAllHostnames is set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
allowAllHostnames = true
cachedHostnames = ["foo"])toml",
     R"toml(filter "foo": "cachedHostnames" must be empty when "allowAllHostnames" is true)toml"},
    {"cachedHostnames not empty and reCacheEvery is not set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
trafficQueue.ipv4 = 1001
cachedHostnames = ["foo"])toml",
     R"toml(filter "foo": "reCacheEvery" must be set when "cachedHostnames" is not empty)toml"},
    {"cachedHostnames empty and reCacheEvery is set",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
reCacheEvery = "1s"
allowAnswersFor = "5s"
allowedHostnames = ["foo"])toml",
     R"toml(filter "foo": "reCacheEvery" must not be set when "cachedHostnames" is empty)toml"},
    {"negative reCacheEvery",
     R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
trafficQueue.ipv4 = 1001
reCacheEvery = "-1m"
cachedHostnames = ["foo"])toml",
     R"toml(filter "foo": "reCacheEvery" must not be negative)toml"},
    {"dnsQueue set and cachedHostnames not empty",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
reCacheEvery = "1s"
cachedHostnames = ["foo"])toml",
     R"toml(filter "foo": "dnsQueue" must not be set when "allowedHostnames" is empty and either "cachedHostames" is not empty or "lookupUnknownIPs" is true)toml"},
    {"dnsQueue and lookupUnknownIPs set",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
lookupUnknownIPs = true)toml",
     R"toml(filter "foo": "dnsQueue" must not be set when "allowedHostnames" is empty and either "cachedHostames" is not empty or "lookupUnknownIPs" is true)toml"},
    {"selfDNSQueue set",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "10s"
allowedHostnames = ["foo"])toml",
     R"toml("selfDNSQueue" must only be set when at least one filter either sets "lookupUnknownIPs" to true or "cachedHostnames" is not empty)toml"},
    {"invalid allowed hostname",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "10s"
allowedHostnames = ["foo."])toml",
     R"toml(filter "foo": allowed hostname "foo." is not a valid domain name)toml"},
    {"shared allowed and cached hostname",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "10s"
allowedHostnames = ["foo"]
reCacheEvery = "10s"
cachedHostnames = ["foo"])toml",
     R"toml(filter "foo": allowed hostname "foo" is specified as a hostname to be cached as well)toml"},
    {"duplicate allowed hostname",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "10s"
allowedHostnames = [
	"twice",
	"twice",
])toml",
     R"toml(filter "foo": allowed hostname "twice" is specified more than once)toml"},
    {"invalid cached hostname",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
trafficQueue.ipv4 = 1001
reCacheEvery = "10s"
cachedHostnames = ["foo."])toml",
     R"toml(filter "foo": hostname to be cached "foo." is not a valid domain name)toml"},
    {"duplicate cached hostname",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
trafficQueue.ipv4 = 1001
reCacheEvery = "10s"
cachedHostnames = [
	"twice",
	"twice",
])toml",
     R"toml(filter "foo": hostname to be cached "twice" is specified more than once)toml"},
    {"duplicate filter names",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "10s"
allowedHostnames = ["foo"]

[[filters]]
name = "foo"
dnsQueue.ipv4 = 2000
trafficQueue.ipv4 = 2001
allowAnswersFor = "10s"
allowedHostnames = ["bar"])toml",
     R"toml(filter #1: filter name "foo" is already used by filter #0)toml"},
    {"duplicate dnsQueues",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "10s"
allowedHostnames = ["foo"]

[[filters]]
name = "bar"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 2001
allowAnswersFor = "10s"
allowedHostnames = ["bar"])toml",
     R"toml(filter "bar": "dnsQueue.ipv4" 1000 is already used by filter "foo")toml"},
    {"duplicate trafficQueues",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "10s"
allowedHostnames = ["foo"]

[[filters]]
name = "bar"
dnsQueue.ipv4 = 2000
trafficQueue.ipv4 = 1001
allowAnswersFor = "10s"
allowedHostnames = ["bar"])toml",
     R"toml(filter "bar": "trafficQueue.ipv4" 1001 is already used by filter "foo")toml"},
    {"selfDNSQueue and dnsQueue same",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 100
trafficQueue.ipv4 = 1001
lookupUnknownIPs = true
allowAnswersFor = "10s"
allowedHostnames = ["foo"])toml",
     R"toml(filter "foo": "selfDNSQueue" and "dnsQueue" must be different)toml"},
    {"selfDNSQueue and trafficQueue same",
     R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 100
lookupUnknownIPs = true
allowAnswersFor = "10s"
allowedHostnames = ["foo"])toml",
     R"toml(filter "foo": "selfDNSQueue" and "trafficQueue" must be different)toml"},
};

// The configs of the cases egress-eddie accepts, by testName (two share a name).
const char* const kValid1 =  // valid allowAllHostnames is set
    R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
allowAllHostnames = true)toml";
const char* const kValid2 =  // valid allowAllHostnames is not set
    R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "5s"
allowedHostnames = [
	"foo",
	"bar",
	"baz.barf",
])toml";
const char* const kValid3 =  // valid allowAllHostnames mixed
    R"toml(
inboundDNSQueue.ipv4 = 1

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
allowAnswersFor = "5s"
allowedHostnames = [
	"foo",
	"bar",
	"baz.barf",
]

[[filters]]
name = "bar"
dnsQueue.ipv4 = 2000
allowAllHostnames = true)toml";
const char* const kValid4 =  // valid cachedHostnames
    R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
trafficQueue.ipv4 = 1001
reCacheEvery = "1s"
cachedHostnames = [
	"oof",
	"rab",
])toml";
const char* const kValid5 =  // valid lookupUnknownIPs
    R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
trafficQueue.ipv4 = 1001
lookupUnknownIPs = true)toml";
const char* const kValid6 =  // valid allowedHostnames and cachedHostnames
    R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
reCacheEvery = "1s"
cachedHostnames = [
	"oof",
	"rab",
]
allowAnswersFor = "5s"
allowedHostnames = [
	"foo",
	"bar",
	"baz.barf",
])toml";
const char* const kValid7 =  // valid lookupUnknownIPs
    R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
lookupUnknownIPs = true
allowAnswersFor = "5s"
allowedHostnames = [
	"foo",
	"bar",
	"baz.barf",
])toml";
const char* const kValid8 =  // valid lookupUnknownIPs is set and cachedHostnames is not empty
    R"toml(
inboundDNSQueue.ipv4 = 1
selfDNSQueue.ipv4 = 100

[[filters]]
name = "foo"
dnsQueue.ipv4 = 1000
trafficQueue.ipv4 = 1001
lookupUnknownIPs = true
reCacheEvery = "1s"
cachedHostnames = [
	"oof",
	"rab",
]
allowAnswersFor = "5s"
allowedHostnames = [
	"foo",
	"bar",
	"baz.barf",
])toml";
const char* const kValid9 =  // valid multiple filters
    R"toml(
inboundDNSQueue.ipv4 = 1
inboundDNSQueue.ipv6 = 10
selfDNSQueue.ipv4 = 100
selfDNSQueue.ipv6 = 110

[[filters]]
name = "test1"
dnsQueue.ipv4 = 1000
dnsQueue.ipv6 = 1010
trafficQueue.ipv4 = 1001
trafficQueue.ipv6 = 1011
allowAnswersFor = "5s"
allowedHostnames = [
	"foo",
	"bar",
]

[[filters]]
name = "test2"
trafficQueue.ipv4 = 2010
trafficQueue.ipv6 = 2011
lookupUnknownIPs = true

[[filters]]
name = "test3"
trafficQueue.ipv4 = 3001
trafficQueue.ipv6 = 3011
reCacheEvery = "1s"
cachedHostnames = [
	"oof",
	"rab",
]

[[filters]]
name = "test4"
dnsQueue.ipv4 = 4000
dnsQueue.ipv6 = 4010
allowAllHostnames = true)toml";

QueuePair q(uint16_t v4, uint16_t v6 = 0) {
    QueuePair p;
    if (v4) p.ipv4 = v4;
    if (v6) p.ipv6 = v6;
    return p;
}

bool operator==(const QueuePair& a, const QueuePair& b) {
    return a.ipv4 == b.ipv4 && a.ipv6 == b.ipv6;
}

std::string show(const QueuePair& p) {
    return "{" + (p.ipv4 ? std::to_string(*p.ipv4) : "-") + ", " +
           (p.ipv6 ? std::to_string(*p.ipv6) : "-") + "}";
}

// One FilterOptions of egress-eddie's expectedConfig (durations in ms).
struct Want {
    Want(std::string n, QueuePair d, QueuePair t, bool all = false, bool lookup = false,
         int64_t allow_ms = 0, int64_t recache_ms = 0, std::vector<std::string> a = {},
         std::vector<std::string> c = {})
        : name(std::move(n)),
          dns(d),
          traffic(t),
          allow_all(all),
          lookup_unknown_ips(lookup),
          allow_answers_for_ms(allow_ms),
          recache_every_ms(recache_ms),
          allowed(std::move(a)),
          cached(std::move(c)) {}
    std::string name;
    QueuePair dns, traffic;
    bool allow_all = false, lookup_unknown_ips = false;
    int64_t allow_answers_for_ms = 0, recache_every_ms = 0;
    std::vector<std::string> allowed, cached;
};

// egress-eddie's self filter. Its AllowAnswersFor is Go's zero value; ours carries
// kSelfFilterAllowAnswersForMs so that the engine follows the answers to enforce's own
// lookups (an internal value: no config can set it, so acceptance does not differ).
Want self_filter(QueuePair dns, std::vector<std::string> allowed) {
    return {kSelfFilterName, dns, {}, false, false, kSelfFilterAllowAnswersForMs, 0, allowed, {}};
}

void expect_config(const char* text, QueuePair inbound, QueuePair self,
                   const std::vector<Want>& want) {
    auto c = parse_enforce_config(text, "eddie.toml");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_TRUE(c->inbound_dns_queue == inbound) << show(c->inbound_dns_queue);
    EXPECT_TRUE(c->self_dns_queue == self) << show(c->self_dns_queue);
    ASSERT_EQ(c->filters.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        const FilterConfig& g = c->filters[i];
        const Want& w = want[i];
        SCOPED_TRACE("filter #" + std::to_string(i) + " " + w.name);
        EXPECT_EQ(g.name, w.name);
        EXPECT_TRUE(g.dns_queue == w.dns) << show(g.dns_queue);
        EXPECT_TRUE(g.traffic_queue == w.traffic) << show(g.traffic_queue);
        EXPECT_EQ(g.allow_all_hostnames, w.allow_all);
        EXPECT_EQ(g.lookup_unknown_ips, w.lookup_unknown_ips);
        EXPECT_EQ(g.allow_answers_for_ms, w.allow_answers_for_ms);
        EXPECT_EQ(g.recache_every_ms, w.recache_every_ms);
        EXPECT_EQ(g.allowed_hostnames, w.allowed);
        EXPECT_EQ(g.cached_hostnames, w.cached);
        // Our extension keys, not set: their defaults.
        EXPECT_EQ(g.record_ttl, RecordTtl::ignore);
        EXPECT_EQ(g.query_timeout_ms, 5000);
        EXPECT_EQ(g.outstanding_queries, 4096u);
    }
}

}  // namespace

TEST(EddieConfig, RejectsWhatEddieRejectsWithItsMessage) {
    EXPECT_EQ(std::size(kEddieErrorCases), 50u);  // config_test.go has 59 cases, 9 valid
    const std::regex location(R"(^eddie\.toml(:[1-9][0-9]*)?: )");
    for (const auto& c : kEddieErrorCases) {
        SCOPED_TRACE(c.name);
        auto r = parse_enforce_config(c.config, "eddie.toml");
        ASSERT_FALSE(r.ok());
        const std::string& msg = r.error().message;
        std::smatch m;
        ASSERT_TRUE(std::regex_search(msg, m, location)) << msg;
        EXPECT_EQ(msg.substr(static_cast<size_t>(m.length(0))), c.error) << msg;
    }
}

TEST(EddieConfig, ValidAllowAllHostnamesIsSet) {
    expect_config(kValid1, q(1), {}, {{"foo", q(1000), {}, true}});
}

TEST(EddieConfig, ValidAllowAllHostnamesIsNotSet) {
    expect_config(kValid2, q(1), {},
                  {{"foo", q(1000), q(1001), false, false, 5000, 0, {"foo", "bar", "baz.barf"}}});
}

TEST(EddieConfig, ValidAllowAllHostnamesMixed) {
    expect_config(kValid3, q(1), {},
                  {{"foo", q(1000), q(1001), false, false, 5000, 0, {"foo", "bar", "baz.barf"}},
                   {"bar", q(2000), {}, true}});
}

TEST(EddieConfig, ValidCachedHostnames) {
    expect_config(kValid4, q(1), q(100),
                  {self_filter(q(100), {"oof", "rab"}),
                   {"foo", {}, q(1001), false, false, 0, 1000, {}, {"oof", "rab"}}});
}

TEST(EddieConfig, ValidLookupUnknownIPs) {
    expect_config(
        kValid5, q(1), q(100),
        {self_filter(q(100), {"in-addr.arpa", "ip6.arpa"}), {"foo", {}, q(1001), false, true}});
}

TEST(EddieConfig, ValidAllowedHostnamesAndCachedHostnames) {
    expect_config(kValid6, q(1), q(100),
                  {self_filter(q(100), {"oof", "rab"}),
                   {"foo",
                    q(1000),
                    q(1001),
                    false,
                    false,
                    5000,
                    1000,
                    {"foo", "bar", "baz.barf"},
                    {"oof", "rab"}}});
}

TEST(EddieConfig,
     ValidLookupUnknownIPsWithAllowedHostnames) {  // the second "valid lookupUnknownIPs"
    expect_config(kValid7, q(1), q(100),
                  {self_filter(q(100), {"in-addr.arpa", "ip6.arpa"}),
                   {"foo", q(1000), q(1001), false, true, 5000, 0, {"foo", "bar", "baz.barf"}}});
}

TEST(EddieConfig, ValidLookupUnknownIPsIsSetAndCachedHostnamesIsNotEmpty) {
    expect_config(kValid8, q(1), q(100),
                  {self_filter(q(100), {"in-addr.arpa", "ip6.arpa", "oof", "rab"}),
                   {"foo",
                    q(1000),
                    q(1001),
                    false,
                    true,
                    5000,
                    1000,
                    {"foo", "bar", "baz.barf"},
                    {"oof", "rab"}}});
}

TEST(EddieConfig, ValidMultipleFilters) {
    expect_config(kValid9, q(1, 10), q(100, 110),
                  {self_filter(q(100, 110), {"in-addr.arpa", "ip6.arpa", "oof", "rab"}),
                   {"test1", q(1000, 1010), q(1001, 1011), false, false, 5000, 0, {"foo", "bar"}},
                   {"test2", {}, q(2010, 2011), false, true},
                   {"test3", {}, q(3001, 3011), false, false, 0, 1000, {}, {"oof", "rab"}},
                   {"test4", q(4000, 4010), {}, true}});
}

}  // namespace em
