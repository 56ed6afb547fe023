#pragma once
// Result<T>: a value or an Error with a human-readable message carrying its context
// (which file, which line, errno text). Hot paths return it and never throw.
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace em {

struct Error {
    std::string message;
};

/// An Error from a failed system call: "<what>: <strerror(errno)>".
inline Error errno_error(const std::string& what, int err = errno) {
    return Error{what + ": " + std::strerror(err)};
}

template <class T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Error e) : v_(std::move(e)) {}      // NOLINT
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& value() const& { return std::get<0>(v_); }
    T* operator->() { return &value(); }
    T& operator*() & { return value(); }
    T&& operator*() && { return std::get<0>(std::move(v_)); }
    const T& operator*() const& { return value(); }
    const Error& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), ok_(false) {}  // NOLINT
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const { return err_; }

  private:
    Error err_;
    bool ok_ = true;
};

}  // namespace em
