#pragma once
// Kernel LOG lines from the systemd journal (sd-journal, entries with _TRANSPORT=kernel).
// The cursor is the journal's own cursor string of the last consumed entry. When the entry
// it names has been vacuumed away, reading resumes at the next entry still there.
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "core/batch.h"
#include "sources/kernel_log/kernel_line.h"

namespace em {

/// The value of an entry's MESSAGE field from the bytes sd_journal_get_data returns
/// ("MESSAGE=value"; the value may hold any bytes, NULs and newlines included); nullopt when
/// the bytes are not that field. Pure: the reader below calls it, the fuzzer drives it.
std::optional<std::string_view> journal_message_value(const void* data, size_t len);

struct JournalRead {
    std::string cursor;  // empty when the journal holds no kernel entry yet
    bool cursor_lost = false;
};

/// Reads kernel entries after `cursor` (nullopt: from the oldest). `directory` empty means
/// the system's local journal; otherwise the journal files in that directory.
Result<JournalRead> read_journal(const std::string& directory,
                                 const std::optional<std::string>& cursor, KernelLineFolder& folder,
                                 Batch& batch);

}  // namespace em
