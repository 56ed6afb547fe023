#pragma once
// The DNS queries one filter of `enforce` let out and has not seen answered: what a response
// must match before anything is learnt from it (issue 13). A response matches a query when it
// comes back on the same transport from the address and port the query went to, to the
// address and port it came from, with its transaction id and its question (name and type).
// A matched query is consumed: one answer per query.
//
// Bounded and cheap per packet:
//   - at most `capacity` queries at once (fixed arrays allocated at construction), and at
//     most kMaxPerSocket of them from one client address and port; a query beyond either is
//     refused (the caller drops it: nothing goes out whose answer could not be matched);
//   - a query is forgotten `timeout_ms` after it went out (a later answer is unsolicited);
//     since every query of a table lives equally long, the oldest is always the first to
//     expire, and expiry costs O(1) per query;
//   - the index is open addressing over a power of two at least twice the capacity, hashed
//     with a per-table random seed (a client choosing ports and ids cannot aim at one chain);
//     no allocation per query once a slot's name has held a name as long.
// Single-threaded (the verdict loop).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"

namespace em {

/// A DNS exchange as the query went out: client → server.
struct DnsFlow {
    uint8_t proto = 0;  // 17 UDP, 6 TCP
    IpAddress client, server;
    uint16_t client_port = 0, server_port = 0;
};

struct DnsQuestion {
    uint16_t id = 0;
    std::string_view qname;  // normalised (lower case, no trailing dot)
    uint16_t qtype = 0;
};

class PendingQueries {
  public:
    static constexpr size_t kMaxPerSocket = 64;

    enum class Added { added, replaced, table_full, socket_full };
    /// What a response was, from the most to the least like an answer.
    enum class Match { matched, wrong_question, wrong_id, wrong_server, unsolicited };

    PendingQueries(size_t capacity, int64_t timeout_ms);

    /// Records a query sent now. A query with the flow and id of one outstanding replaces it
    /// (a retransmission, or a new question from a reused socket and id).
    Added add(const DnsFlow& flow, const DnsQuestion& q, int64_t now_ms);
    /// Looks for the query a response on `flow` (given as the query's: client = the response's
    /// destination) answers; a match is consumed. Otherwise what came closest: the same id
    /// and server but another question, the same server but no such id, the same client
    /// socket but another server, or nothing from that client socket at all. With
    /// `consume` false a match is left outstanding.
    Match take(const DnsFlow& flow, const DnsQuestion& q, int64_t now_ms, bool consume = true);
    /// Forgets the queries whose time is over (add and take do so too).
    void expire(int64_t now_ms);

    size_t size() const { return size_; }
    size_t capacity() const { return slots_.size(); }
    /// Queries forgotten unanswered because their time was over (since construction).
    uint64_t expired() const { return expired_; }

  private:
    static constexpr uint32_t kNone = 0xffffffff;
    struct Slot {
        DnsFlow flow;
        uint16_t id = 0, qtype = 0;
        int64_t until = 0;
        uint32_t older = kNone, newer = kNone;    // the age list (oldest first)
        uint32_t prev_s = kNone, next_s = kNone;  // the queries of the same client socket
        std::string qname;
    };

    static bool same_socket(const DnsFlow& a, const DnsFlow& b) {
        return a.proto == b.proto && a.client_port == b.client_port && a.client == b.client;
    }
    uint64_t hash_socket(const DnsFlow& f) const;
    /// The index position holding the chain of `f`'s socket, or of the empty place where it
    /// would go.
    size_t find_position(const DnsFlow& f) const;
    void remove(uint32_t slot);
    void erase_position(size_t pos);

    std::vector<Slot> slots_;
    std::vector<uint32_t> index_;  // kNone or the first slot of a socket's chain
    size_t mask_ = 0;
    uint64_t seed_ = 0;
    int64_t timeout_ms_;
    uint32_t free_ = kNone;  // free slots, linked through `newer`
    uint32_t oldest_ = kNone, newest_ = kNone;
    size_t size_ = 0;
    uint64_t expired_ = 0;
};

}  // namespace em
