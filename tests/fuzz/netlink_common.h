// Shared by the netlink fuzz targets: the input copied into a buffer aligned as recv()
// fills one (netlink messages are 4-byte aligned), and bounds checks of decoded views.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace em_fuzz {

class AlignedInput {
  public:
    AlignedInput(const uint8_t* data, size_t size) : words_(size / 8 + 1), size_(size) {
        if (size) std::memcpy(words_.data(), data, size);
    }
    const uint8_t* data() const { return reinterpret_cast<const uint8_t*>(words_.data()); }
    size_t size() const { return size_; }
    /// True when [p, p+n) lies inside the input (n == 0 always does).
    bool holds(const void* p, size_t n) const {
        auto* b = static_cast<const uint8_t*>(p);
        return n == 0 || (b >= data() && n <= size_ && b <= data() + size_ - n);
    }

  private:
    std::vector<uint64_t> words_;
    size_t size_;
};

}  // namespace em_fuzz
