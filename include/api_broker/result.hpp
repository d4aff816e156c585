#pragma once
// Result<T>: a value or an Error, with the interface of C++23's std::expected<T, Error>.
// Failures in api-broker are normal (503s, timeouts, locked databases, duplicate UUIDs), so
// every fallible call returns one and each caller decides; bugs are asserts (assert.hpp).

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "api_broker/assert.hpp"

namespace api_broker {

enum class Errc : std::uint8_t {
  duplicate,      // an external UUID is already stored; Error::related_id is its event
  not_found,      // no such event, UUID, checkpoint
  unavailable,    // the database or the network cannot be reached right now: retry later
  corrupt,        // stored data that does not decode; Error::related_id is the event id
  invalid_input,  // the caller's input is malformed
  unsupported,    // valid input this build or this store cannot serve (e.g. newer schema)
  cancelled,      // a stop was requested
  fenced,         // the lease the writer acted under was taken over: it must stop acting
  rejected,       // refused for good (e.g. a TLS certificate that fails verification): retrying
                  // cannot help
};

const char* to_string(Errc code);

struct Error {
  Errc code;
  std::string message;
  std::uint64_t related_id = 0;
};

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}
  E& error() & { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

inline Unexpected<Error> fail(Errc code, std::string message, std::uint64_t related_id = 0) {
  return Unexpected<Error>(Error{code, std::move(message), related_id});
}
inline Unexpected<Error> fail(Error error) { return Unexpected<Error>(std::move(error)); }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Unexpected<Error> error)                                       // NOLINT: implicit
      : data_(std::in_place_index<1>, std::move(error).error()) {}

  [[nodiscard]] bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    API_BROKER_ASSERT(has_value());
    return std::get<0>(data_);
  }
  [[nodiscard]] const T& value() const& {
    API_BROKER_ASSERT(has_value());
    return std::get<0>(data_);
  }
  T&& value() && {
    API_BROKER_ASSERT(has_value());
    return std::get<0>(std::move(data_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  [[nodiscard]] const Error& error() const& {
    API_BROKER_ASSERT(!has_value());
    return std::get<1>(data_);
  }
  Error&& error() && {
    API_BROKER_ASSERT(!has_value());
    return std::get<1>(std::move(data_));
  }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(data_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected<Error> error) : error_(std::move(error).error()), ok_(false) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  void value() const { API_BROKER_ASSERT(ok_); }
  [[nodiscard]] const Error& error() const& {
    API_BROKER_ASSERT(!ok_);
    return error_;
  }
  Error&& error() && {
    API_BROKER_ASSERT(!ok_);
    return std::move(error_);
  }

 private:
  Error error_{};
  bool ok_ = true;
};

}  // namespace api_broker
