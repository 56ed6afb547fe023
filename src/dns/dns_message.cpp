#include "dns/dns_message.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "common/unique_fd.h"

namespace em {

namespace {

using PktPtr = std::unique_ptr<ldns_pkt, Deleter<ldns_pkt_free>>;

constexpr uint16_t kTypeA = 1, kTypeNs = 2, kTypeCname = 5, kTypePtr = 12, kTypeMx = 15,
                   kTypeAaaa = 28, kTypeSrv = 33;
constexpr size_t kMaxChain = 16;

// Appends one label byte the way ldns prints names, after folding ASCII upper case: the
// result is printable ASCII without spaces, so a name is always one field of a line.
void append_label_byte(std::string& out, uint8_t c) {
    if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c - 'A' + 'a');
    if (c == '.' || c == ';' || c == '(' || c == ')' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
    } else if (c <= 0x20 || c >= 0x7f) {
        const char esc[4] = {'\\', static_cast<char>('0' + c / 100),
                             static_cast<char>('0' + c / 10 % 10), static_cast<char>('0' + c % 10)};
        out.append(esc, 4);
    } else {
        out += static_cast<char>(c);
    }
}

// True for bytes that go into a name as they are (lower case letters, digits, '-', '_', ...).
bool plain_byte(uint8_t c) {
    return c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z') && c != '.' && c != ';' && c != '(' &&
           c != ')' && c != '\\';
}

// A name from an uncompressed wire-format dname (as ldns stores it): labels joined by dots,
// lower case, no trailing dot; the root is ".". nullopt when the labels overrun the data.
// Written into `out` (its capacity reused); false when malformed.
bool normalise_dname(const ldns_rdf* rdf, std::string& out) {
    out.clear();
    if (rdf == nullptr || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) return false;
    const uint8_t* p = ldns_rdf_data(rdf);
    size_t size = ldns_rdf_size(rdf);
    if (p == nullptr || size == 0) return false;
    out.reserve(size);
    size_t i = 0;
    while (i < size && p[i] != 0) {
        size_t label = p[i];
        if (label > 63 || size - i - 1 < label) return false;
        if (!out.empty()) out += '.';
        // Copy runs of plain bytes at once; escape or fold the others.
        size_t k = 1;
        while (k <= label) {
            size_t run = k;
            while (run <= label && plain_byte(p[i + run])) ++run;
            out.append(reinterpret_cast<const char*>(p + i + k), run - k);
            if (run <= label) append_label_byte(out, p[i + run++]);
            k = run;
        }
        i += label + 1;
    }
    if (i >= size) return false;          // no terminating root label
    if (out.empty()) out.push_back('.');  // the root
    return true;
}

std::optional<IpAddress> address_of(const ldns_rr* rr, uint16_t type) {
    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || ldns_rr_rd_count(rr) < 1) {
        return std::nullopt;
    }
    const ldns_rdf* rdf = ldns_rr_rdf(rr, 0);
    if (rdf == nullptr) return std::nullopt;
    const uint8_t* p = ldns_rdf_data(rdf);
    if (type == kTypeA && ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_A && ldns_rdf_size(rdf) == 4) {
        return IpAddress::v4((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                             (uint32_t{p[2]} << 8) | p[3]);
    }
    if (type == kTypeAaaa && ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_AAAA &&
        ldns_rdf_size(rdf) == 16) {
        return IpAddress::v6(p);
    }
    return std::nullopt;
}

// The rdata field holding the target name of the types that have one, or -1.
int target_field(uint16_t type) {
    switch (type) {
        case kTypeCname:
        case kTypeNs:
        case kTypePtr:
            return 0;
        case kTypeMx:
            return 1;
        case kTypeSrv:
            return 3;
        default:
            return -1;
    }
}

}  // namespace

Result<DnsMessage> decode_dns(const uint8_t* data, size_t len) {
    DnsMessage msg;
    if (auto r = decode_dns_into(data, len, msg); !r) return r.error();
    return msg;
}

Result<void> decode_dns_into(const uint8_t* data, size_t len, DnsMessage& msg) {
    if (data == nullptr || len < 12) {
        return Error{fmt::format("truncated header ({} of 12 bytes)", data ? len : 0)};
    }
    ldns_pkt* raw = nullptr;
    ldns_status st = ldns_wire2pkt(&raw, data, len);
    PktPtr pkt(raw);
    if (st != LDNS_STATUS_OK || !pkt) {
        const char* what = ldns_get_errorstr_by_id(st);
        return Error{fmt::format("malformed message: {}", what ? what : "unknown error")};
    }
    msg.id = ldns_pkt_id(pkt.get());
    msg.response = ldns_pkt_qr(pkt.get());
    msg.opcode = static_cast<uint8_t>(ldns_pkt_get_opcode(pkt.get()));
    msg.rcode = static_cast<uint8_t>(ldns_pkt_get_rcode(pkt.get()));
    msg.truncated = ldns_pkt_tc(pkt.get());
    msg.question_count = ldns_pkt_qdcount(pkt.get());
    msg.answer_count = ldns_pkt_ancount(pkt.get());
    {
        // ldns_wire2pkt takes the OPT and TSIG records out of the additional section.
        const ldns_rr_list* ns = ldns_pkt_authority(pkt.get());
        const ldns_rr_list* ar = ldns_pkt_additional(pkt.get());
        const size_t n =
            (ns ? ldns_rr_list_rr_count(ns) : 0) + (ar ? ldns_rr_list_rr_count(ar) : 0);
        msg.other_records = static_cast<uint16_t>(std::min<size_t>(n, 0xffff));
    }
    msg.qname.clear();
    msg.qtype = 0;

    const ldns_rr_list* question = ldns_pkt_question(pkt.get());
    if (question != nullptr && ldns_rr_list_rr_count(question) > 0) {
        const ldns_rr* q = ldns_rr_list_rr(question, 0);
        if (!normalise_dname(ldns_rr_owner(q), msg.qname)) return Error{"bad name in question"};
        msg.qtype = static_cast<uint16_t>(ldns_rr_get_type(q));
    }

    // Records are reused from the previous message decoded into `msg` (their strings keep
    // their capacity): this runs per packet.
    const ldns_rr_list* answer = ldns_pkt_answer(pkt.get());
    size_t count = answer ? ldns_rr_list_rr_count(answer) : 0;
    msg.answers.resize(count);
    for (size_t i = 0; i < count; ++i) {
        const ldns_rr* rr = ldns_rr_list_rr(answer, i);
        DnsRecord& rec = msg.answers[i];
        if (!normalise_dname(ldns_rr_owner(rr), rec.name))
            return Error{fmt::format("bad owner name in answer {}", i + 1)};
        rec.type = static_cast<uint16_t>(ldns_rr_get_type(rr));
        rec.ttl = ldns_rr_ttl(rr);
        rec.address.reset();
        rec.target.clear();
        if (rec.type == kTypeA || rec.type == kTypeAaaa) {
            rec.address = address_of(rr, rec.type);
        } else if (int f = target_field(rec.type); f >= 0) {
            if (ldns_rr_rd_count(rr) > static_cast<size_t>(f) &&
                !normalise_dname(ldns_rr_rdf(rr, static_cast<size_t>(f)), rec.target))
                return Error{fmt::format("bad target name in answer {}", i + 1)};
        }
    }
    return {};
}

std::vector<ResolvedAddress> resolve_answers(const DnsMessage& msg,
                                             std::vector<std::string>* chain) {
    std::vector<ResolvedAddress> out;
    if (chain) chain->clear();
    if (msg.qname.empty()) return out;
    // names[i] is reached from qname through CNAMEs whose smallest TTL is ttls[i].
    std::vector<const std::string*> names{&msg.qname};
    std::vector<uint32_t> ttls{std::numeric_limits<uint32_t>::max()};
    while (names.size() <= kMaxChain) {
        const DnsRecord* next = nullptr;
        for (const auto& r : msg.answers) {
            if (r.type == kTypeCname && !r.target.empty() && r.name == *names.back()) {
                next = &r;
                break;
            }
        }
        if (next == nullptr) break;
        bool seen = std::any_of(names.begin(), names.end(),
                                [&](const std::string* n) { return *n == next->target; });
        if (seen) break;  // a loop: the names so far are all there is
        names.push_back(&next->target);
        ttls.push_back(std::min(ttls.back(), next->ttl));
    }
    for (const auto& r : msg.answers) {
        if (!r.address) continue;
        for (size_t i = 0; i < names.size(); ++i) {
            if (r.name != *names[i]) continue;
            uint32_t ttl = std::min(ttls[i], r.ttl);
            auto dup = std::find_if(out.begin(), out.end(),
                                    [&](const ResolvedAddress& a) { return a.ip == *r.address; });
            if (dup == out.end()) {
                out.push_back({*r.address, ttl});
            } else {
                dup->ttl = std::min(dup->ttl, ttl);
            }
            break;
        }
    }
    if (chain) {
        chain->reserve(names.size());
        for (const auto* n : names) chain->push_back(*n);
    }
    return out;
}

std::string dns_type_name(uint16_t type) {
    // Query-only types have no descriptor in ldns.
    switch (type) {
        case 251:
            return "IXFR";
        case 252:
            return "AXFR";
        case 255:
            return "ANY";
        default:
            break;
    }
    const ldns_rr_descriptor* d = ldns_rr_descript(type);
    // ldns falls back to a generic descriptor, and names some unassigned types "TYPEnnn".
    if (d != nullptr && static_cast<uint16_t>(d->_type) == type && d->_name != nullptr &&
        std::strncmp(d->_name, "TYPE", 4) != 0) {
        return d->_name;
    }
    return std::to_string(type);
}

std::string dns_rcode_name(uint8_t rcode) {
    static constexpr std::array<const char*, 11> kNames = {
        "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
        "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
    if (rcode < kNames.size()) return kNames[rcode];
    return std::to_string(rcode);
}

}  // namespace em
