#pragma once
// Kernel LOG lines from /dev/kmsg. The cursor is "<boot id> <sequence number>": records up to
// that number were consumed; after a reboot (another boot id) reading starts at the oldest
// record still in the ring. The ring is small (a few hundred LOG lines): records overwritten
// before a run reads them are detected from the sequence gap and reported, not silent.
#include <optional>
#include <string>

#include "common/result.h"
#include "core/batch.h"
#include "sources/kernel_log/kernel_line.h"

namespace em {

struct KmsgRead {
    std::string cursor;  // to store once the batch is committed; empty when nothing was read
    uint64_t lost = 0;   // records overwritten before they could be read
};

/// Reads every kernel record after `cursor` (nullopt: from the oldest) from `device`.
Result<KmsgRead> read_kmsg(const std::string& device, const std::optional<std::string>& cursor,
                           KernelLineFolder& folder, Batch& batch);

}  // namespace em
