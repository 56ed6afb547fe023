// The agent's user-space costs without the kernel: DNS messages decoded per second (ldns),
// and the pipeline's CPU per flow and per DNS response (decode + count + answer cache + label).
// Synthetic but realistic input: 10,000 names, each answered with a CNAME and two addresses.
#include <time.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/pipeline.h"
#include "core/domain_folder.h"
#include "dns/dns_message.h"

namespace {

double cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void put16(std::string& s, uint16_t v) {
    s += static_cast<char>(v >> 8);
    s += static_cast<char>(v & 0xff);
}
void put_name(std::string& s, const std::string& name) {
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        s += static_cast<char>(dot - start);
        s += name.substr(start, dot - start);
        start = dot + 1;
    }
    s += '\0';
}

// A response: question NAME A; answers NAME CNAME edge.NAME, edge.NAME A a, edge.NAME A b.
std::string response(const std::string& name, uint32_t a) {
    std::string s;
    put16(s, 0x1234);
    put16(s, 0x8180);
    put16(s, 1);
    put16(s, 3);
    put16(s, 0);
    put16(s, 0);
    put_name(s, name);
    put16(s, 1);
    put16(s, 1);
    auto rr_head = [&](uint16_t type) {
        s += "\xc0\x0c";  // the question's name
        put16(s, type);
        put16(s, 1);
        put16(s, 0);
        put16(s, 300);
    };
    rr_head(5);
    std::string target;
    put_name(target, "edge." + name);
    put16(s, static_cast<uint16_t>(target.size()));
    s += target;
    for (uint32_t ip : {a, a + 1}) {
        put_name(s, "edge." + name);
        put16(s, 1);
        put16(s, 1);
        put16(s, 0);
        put16(s, 300);
        put16(s, 4);
        for (int sh = 24; sh >= 0; sh -= 8) s += static_cast<char>((ip >> sh) & 0xff);
    }
    return s;
}

}  // namespace

int main() {
    const int names = 10000;
    std::vector<std::string> msgs;
    for (int i = 0; i < names; ++i)
        msgs.push_back(
            response("host" + std::to_string(i) + ".example" + std::to_string(i % 97) + ".com",
                     0xCB007100u + static_cast<uint32_t>(i) * 2));

    // 1. ldns decode alone.
    const int rounds = 30;
    double t0 = cpu_s();
    size_t ok = 0;
    for (int r = 0; r < rounds; ++r)
        for (const auto& m : msgs)
            ok += em::decode_dns(reinterpret_cast<const uint8_t*>(m.data()), m.size()).ok();
    double dt = cpu_s() - t0;
    std::printf("dns decode (ldns):     %10.0f messages/s  %6.2f us/message  (%zu decoded)\n",
                ok / dt, dt / ok * 1e6, ok);

    // 2. Pipeline: DNS responses (decode + answers + cache), then flows to the answers.
    em::Pipeline p(em::PipelineConfig{}, nullptr);
    em::PacketMeta meta;
    meta.proto = em::kProtoUdp;
    meta.src = *em::IpAddress::parse("198.51.100.1");
    meta.dst = *em::IpAddress::parse("198.51.100.2");
    meta.sport = 53;
    meta.dport = 40000;
    meta.time_ms = 1'800'000'000'000;
    em::PacketInfo pk;
    pk.proto = em::kProtoUdp;
    pk.sport = 53;
    t0 = cpu_s();
    size_t n = 0;
    for (int r = 0; r < rounds; ++r)
        for (const auto& m : msgs) {
            pk.payload = reinterpret_cast<const uint8_t*>(m.data());
            pk.payload_len = pk.payload_wire_len = m.size();
            p.on_dns_packet(meta, pk);
            ++n;
        }
    dt = cpu_s() - t0;
    std::printf("pipeline DNS response: %10.0f messages/s  %6.2f us/message\n", n / dt,
                dt / n * 1e6);

    meta.proto = em::kProtoTcp;
    meta.dport = 443;
    t0 = cpu_s();
    n = 0;
    for (int r = 0; r < 100; ++r)
        for (int i = 0; i < 2 * names; ++i) {
            meta.dst = em::IpAddress::v4(0xCB007100u + static_cast<uint32_t>(i));
            meta.sport = static_cast<uint16_t>(1024 + n % 60000);
            p.on_flow(meta);
            ++n;
        }
    dt = cpu_s() - t0;
    std::printf(
        "pipeline flow:         %10.0f flows/s     %6.2f us/flow  (labelled from the "
        "cache)\n",
        n / dt, dt / n * 1e6);
    // 3. A flood: every query a new random name under one registrable domain, each answered
    //    (what the live flood test sends), with folding on as in the agent.
    auto folder = em::DomainFolder::create(1000);
    if (!folder) return 1;
    em::Pipeline fp(em::PipelineConfig{}, &*folder);
    std::vector<std::string> queries, answers;
    for (int i = 0; i < 100000; ++i) {
        std::string name = "x" + std::to_string(i * 7919) + "q.flood.example.com";
        std::string r = response(name, 0xC0000201u);
        std::string q = r.substr(0, 12 + name.size() + 2 + 4);
        q[2] = 0x01;  // flags: a query
        q[3] = 0x00;
        q[7] = 0;  // no answers
        queries.push_back(q);
        answers.push_back(r);
    }
    em::PacketMeta qm = meta;
    qm.proto = em::kProtoUdp;
    qm.src = *em::IpAddress::parse("198.51.100.2");
    qm.dst = *em::IpAddress::parse("198.51.100.1");
    qm.sport = 40000;
    qm.dport = 53;
    em::PacketMeta rm = qm;
    std::swap(rm.src, rm.dst);
    std::swap(rm.sport, rm.dport);
    t0 = cpu_s();
    n = 0;
    for (size_t i = 0; i < queries.size(); ++i) {
        pk.payload = reinterpret_cast<const uint8_t*>(queries[i].data());
        pk.payload_len = pk.payload_wire_len = queries[i].size();
        fp.on_dns_packet(qm, pk);
        pk.payload = reinterpret_cast<const uint8_t*>(answers[i].data());
        pk.payload_len = pk.payload_wire_len = answers[i].size();
        fp.on_dns_packet(rm, pk);
        n += 2;
    }
    dt = cpu_s() - t0;
    std::printf(
        "pipeline DNS flood:    %10.0f messages/s  %6.2f us/message  (new names, folded "
        "beyond 1000)\n",
        n / dt, dt / n * 1e6);
    return p.batch().ips().size() == static_cast<size_t>(2 * names) ? 0 : 1;
}
