#pragma once
// Kernel LOG lines from /dev/kmsg. The cursor is "<boot id> <sequence number>": records up to
// that number were consumed; after a reboot (another boot id) reading starts at the oldest
// record still in the ring. The ring is small (a few hundred LOG lines): records overwritten
// before a run reads them are detected from the sequence gap and reported, not silent.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "core/batch.h"
#include "sources/kernel_log/kernel_line.h"

namespace em {

/// One /dev/kmsg record as one read() returns it:
/// "PRI,SEQ,TS_USEC,FLAGS[,...];MESSAGE\n[ KEY=VALUE\n...]" (the kernel escapes control
/// bytes in MESSAGE as \xNN; user space may write records too, at its own facility).
struct KmsgRecord {
    uint64_t priority = 0;     // facility << 3 | level; facility 0 is the kernel's
    uint64_t seq = 0;          // sequence number
    int64_t time = 0;          // Unix seconds: TS_USEC (monotonic) + the clock offset given
    std::string_view message;  // up to the first newline; a view into the record
};

/// Decodes a record's framing; `realtime_offset_us` is CLOCK_REALTIME - CLOCK_MONOTONIC.
/// The error says why the bytes are no record (no ';', a header field not a number, a time
/// stamp out of range). Pure: the reader below calls it, the fuzzer drives it.
Result<KmsgRecord> parse_kmsg_record(std::string_view rec, int64_t realtime_offset_us);

struct KmsgRead {
    std::string cursor;  // to store once the batch is committed; empty when nothing was read
    uint64_t lost = 0;   // records overwritten before they could be read
};

/// Reads every kernel record after `cursor` (nullopt: from the oldest) from `device`.
Result<KmsgRead> read_kmsg(const std::string& device, const std::optional<std::string>& cursor,
                           KernelLineFolder& folder, Batch& batch);

}  // namespace em
