#pragma once
// Structured fields for the log lines this thread writes while a LogFields scope lives: the
// text format (--log-format text) leaves them out, the JSON one writes each as a member of
// the line's object, so a request's story can be followed with jq. Part of the base layer:
// the layers that log set them, the command line's JSON formatter reads them.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace api_broker {

struct LogField {
  std::string_view name;  // a literal: the scope does not copy it
  std::variant<std::int64_t, std::string> value;
};

class LogFields {
 public:
  // Adds `fields` to this thread's fields until the scope ends.
  explicit LogFields(std::vector<LogField> fields);
  ~LogFields();
  LogFields(const LogFields&) = delete;
  LogFields& operator=(const LogFields&) = delete;

  // The fields of the scopes alive on this thread, outer ones first.
  static std::span<const LogField> current() noexcept;

 private:
  std::size_t added_;
};

}  // namespace api_broker
