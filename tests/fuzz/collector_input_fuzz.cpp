// Fuzzes the collector's other decoders: the inventory and the collector config (TOML) and
// the per-host state blobs of the history store (a damaged database must give an error,
// never a crash; a lookup in a blob that decodes finds what the decode found). The first byte picks
// the decoder, the rest is its input. A blob that decodes must encode back to bytes that decode to
// the same state.
#include <cstdint>
#include <string>
#include <string_view>

#include "collector/collector_config.h"
#include "collector/fetch.h"
#include "collector/history_state.h"

namespace {

bool same(const em::KeyStats& a, const em::KeyStats& b) {
    return a.count == b.count && a.last_seen == b.last_seen && a.first_seen == b.first_seen &&
           a.deltas == b.deltas && a.delta_sum == b.delta_sum && a.present == b.present;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
        case 0: {
            auto r = em::parse_inventory(in, "fuzz-inventory.toml");
            if (!r && r.error().message.empty()) __builtin_trap();
            break;
        }
        case 1: {
            auto r = em::parse_collector_config(in, "fuzz-collector.toml");
            if (!r && r.error().message.empty()) __builtin_trap();
            break;
        }
        case 2: {
            em::StringBlob src(in);  // a damaged blob: an error or an answer, never a crash
            (void)em::lookup_domain(src, "example.com");
            auto r = em::decode_domains(in);
            if (!r) break;
            for (size_t i = 0; i < r->size() && i < 64; ++i) {  // a lookup finds every name
                auto one = em::lookup_domain(src, (*r)[i].name);
                if (!one || !one->has_value() || !same((*one)->stats, (*r)[i].stats) ||
                    (*one)->ips != (*r)[i].ips)
                    __builtin_trap();
            }
            auto again = em::decode_domains(em::encode_domains(*r));
            if (!again || again->size() != r->size()) __builtin_trap();
            for (size_t i = 0; i < r->size(); ++i)
                if ((*again)[i].name != (*r)[i].name || (*again)[i].ips != (*r)[i].ips ||
                    (*again)[i].base_len != (*r)[i].base_len ||
                    !same((*again)[i].stats, (*r)[i].stats))
                    __builtin_trap();
            break;
        }
        case 3: {
            em::StringBlob src(in);
            (void)em::lookup_ip(src, *em::IpAddress::parse("192.0.2.1"));
            auto r = em::decode_ips(in);
            if (!r) break;
            for (size_t i = 0; i < r->size() && i < 64; ++i) {
                auto one = em::lookup_ip(src, (*r)[i].ip);
                if (!one || !one->has_value() || !same((*one)->stats, (*r)[i].stats))
                    __builtin_trap();
            }
            auto again = em::decode_ips(em::encode_ips(*r));
            if (!again || again->size() != r->size()) __builtin_trap();
            for (size_t i = 0; i < r->size(); ++i)
                if (!((*again)[i].ip == (*r)[i].ip) || !same((*again)[i].stats, (*r)[i].stats))
                    __builtin_trap();
            break;
        }
    }
    return 0;
}
