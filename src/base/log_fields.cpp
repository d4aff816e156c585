#include "api_broker/log_fields.hpp"

namespace api_broker {
namespace {

thread_local std::vector<LogField> fields_of_thread;

}  // namespace

LogFields::LogFields(std::vector<LogField> fields) : added_(fields.size()) {
  for (LogField& field : fields) fields_of_thread.push_back(std::move(field));
}

LogFields::~LogFields() { fields_of_thread.resize(fields_of_thread.size() - added_); }

std::span<const LogField> LogFields::current() noexcept { return fields_of_thread; }

}  // namespace api_broker
