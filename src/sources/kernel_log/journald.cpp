#include "sources/kernel_log/journald.h"

#include <systemd/sd-journal.h>

#include <cstring>
#include <memory>

#include "common/unique_fd.h"

namespace em {

namespace {

Error sd_error(const std::string& what, int r) { return Error{what + ": " + std::strerror(-r)}; }

}  // namespace

std::optional<std::string_view> journal_message_value(const void* data, size_t len) {
    constexpr std::string_view kField = "MESSAGE=";
    if (!data) return std::nullopt;
    std::string_view field(static_cast<const char*>(data), len);
    if (!field.starts_with(kField)) return std::nullopt;
    return field.substr(kField.size());
}

Result<JournalRead> read_journal(const std::string& directory,
                                 const std::optional<std::string>& cursor, KernelLineFolder& folder,
                                 Batch& batch) {
    sd_journal* raw = nullptr;
    int r = directory.empty() ? sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY)
                              : sd_journal_open_directory(&raw, directory.c_str(), 0);
    if (r < 0) return sd_error("cannot open the journal " + directory, r);
    std::unique_ptr<sd_journal, Deleter<sd_journal_close>> j(raw);
    const std::string where = directory.empty() ? "journal" : "journal " + directory;
    if ((r = sd_journal_add_match(j.get(), "_TRANSPORT=kernel", 0)) < 0)
        return sd_error("cannot filter the journal", r);
    sd_journal_set_data_threshold(j.get(), 64 << 10);

    JournalRead out;
    bool positioned = false;  // the current entry is the first unread one
    if (cursor) {
        if ((r = sd_journal_seek_cursor(j.get(), cursor->c_str())) < 0)
            return sd_error("cannot seek the journal to the stored cursor", r);
        r = sd_journal_next(j.get());
        if (r < 0) return sd_error("cannot read the journal", r);
        if (r > 0 && sd_journal_test_cursor(j.get(), cursor->c_str()) <= 0) {
            // The stored entry is gone (vacuumed): this entry is the first unread one.
            out.cursor_lost = true;
            positioned = true;
        }
        out.cursor = *cursor;
    } else if ((r = sd_journal_seek_head(j.get())) < 0) {
        return sd_error("cannot seek the journal", r);
    }
    for (;;) {
        if (!positioned && (r = sd_journal_next(j.get())) <= 0) break;
        positioned = false;
        const void* data = nullptr;
        size_t len = 0;
        char* c = nullptr;
        if (sd_journal_get_cursor(j.get(), &c) >= 0) {
            out.cursor = c;
            free(c);
        }
        if (sd_journal_get_data(j.get(), "MESSAGE", &data, &len) < 0) {
            folder.other();
            continue;
        }
        auto msg = journal_message_value(data, len);
        if (!msg) {
            folder.reject(std::string_view(static_cast<const char*>(data), len), where,
                          "no MESSAGE= field");
            continue;
        }
        uint64_t usec = 0;
        sd_journal_get_realtime_usec(j.get(), &usec);
        folder.message(*msg, static_cast<int64_t>(usec / 1000000), batch, where);
    }
    if (r < 0) return sd_error("cannot read the journal", r);
    return out;
}

}  // namespace em
