#pragma once
// A bounds-checked big-endian reader over a byte range: every read says whether the bytes
// were there, so a length field can never take a decoder past its input.
#include <cstddef>
#include <cstdint>

namespace em {

class ByteReader {
  public:
    ByteReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    size_t left() const { return n_; }
    const uint8_t* data() const { return p_; }
    bool u8(uint8_t& v) { return take_be(1, v); }
    bool u16(uint16_t& v) { return take_be(2, v); }
    bool u24(uint32_t& v) { return take_be(3, v); }
    bool u32(uint32_t& v) { return take_be(4, v); }
    bool skip(size_t k) {
        if (k > n_) return false;
        p_ += k;
        n_ -= k;
        return true;
    }
    /// The next k bytes as a reader of their own.
    bool sub(size_t k, ByteReader& out) {
        if (k > n_) return false;
        out = ByteReader(p_, k);
        return skip(k);
    }
    /// A QUIC variable-length integer (RFC 9000 §16).
    bool varint(uint64_t& v) {
        if (n_ == 0) return false;
        const size_t len = size_t{1} << (p_[0] >> 6);
        if (len > n_) return false;
        v = p_[0] & 0x3f;
        for (size_t i = 1; i < len; ++i) v = v << 8 | p_[i];
        return skip(len);
    }

  private:
    template <class T>
    bool take_be(size_t k, T& v) {
        if (k > n_) return false;
        T x = 0;
        for (size_t i = 0; i < k; ++i) x = static_cast<T>(x << 8 | p_[i]);
        v = x;
        return skip(k);
    }
    const uint8_t* p_;
    size_t n_;
};

}  // namespace em
