#pragma once
// DNS messages decoded with ldns (RFC 1035 wire format): the question, the response code and
// the answer section, which is all the agent needs. Names come out normalised as the
// aggregate files want them (lower case, no trailing dot, IDNs in their ASCII form).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace em {

struct DnsRecord {
    std::string name;   // owner name, normalised
    uint16_t type = 0;  // 1 A, 28 AAAA, 5 CNAME, 2 NS, 15 MX, 33 SRV, 12 PTR, ...
    uint32_t ttl = 0;
    std::optional<IpAddress> address;  // A / AAAA
    std::string target;                // CNAME, NS, PTR, MX exchange, SRV target: normalised
};

struct DnsMessage {
    uint16_t id = 0;
    bool response = false;  // QR bit
    uint8_t opcode = 0;
    uint8_t rcode = 0;       // 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...
    bool truncated = false;  // TC bit
    std::string qname;       // first question, normalised; empty when there is none
    uint16_t qtype = 0;
    uint16_t question_count = 0;
    uint16_t answer_count = 0;  // the header's ANCOUNT
    // Authority records and additional records other than EDNS's OPT (and TSIG): a stub
    // resolver's query has none.
    uint16_t other_records = 0;
    std::vector<DnsRecord> answers;  // answer section, in message order
};

/// Decodes one DNS message (no TCP length prefix). Errors say what was wrong
/// ("truncated header", "bad name in question", ...), never crash on any input.
Result<DnsMessage> decode_dns(const uint8_t* data, size_t len);
/// The same into `out`, reusing its storage (the per-packet path); on error `out` holds a
/// partly decoded message and must not be used.
Result<void> decode_dns_into(const uint8_t* data, size_t len, DnsMessage& out);

/// The A/AAAA addresses that answer `msg.qname`, following the CNAME chain from it through
/// the answer section (bounded, loop-safe); `chain` (optional) receives the names on the way,
/// qname first. The smallest TTL along the chain is stored with each address.
struct ResolvedAddress {
    IpAddress ip;
    uint32_t ttl = 0;
};
std::vector<ResolvedAddress> resolve_answers(const DnsMessage& msg,
                                             std::vector<std::string>* chain = nullptr);

/// "A", "AAAA", "CNAME", ... or the number as text for types without a mnemonic.
std::string dns_type_name(uint16_t type);
/// "NOERROR", "NXDOMAIN", ... or the number as text.
std::string dns_rcode_name(uint8_t rcode);

}  // namespace em
