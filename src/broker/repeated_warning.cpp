#include "api_broker/broker/repeated_warning.hpp"

#include <fmt/format.h>

#include "api_broker/assert.hpp"

namespace api_broker::broker {

RepeatedWarning::RepeatedWarning(std::string what, Sink sink, std::chrono::milliseconds every)
    : what_(std::move(what)), sink_(std::move(sink)), every_(every) {}

void RepeatedWarning::happened(const std::string& reason, Clock::time_point now) {
  ++count_;
  if (count_ == 1) {
    since_ = now;
    told_at_ = now;
    count_told_ = 1;
    sink_(fmt::format("{}: {} (retrying; told again when it clears)", what_, reason));
    return;
  }
  API_BROKER_ASSERT(count_told_ < count_);
  API_BROKER_ASSERT(now >= told_at_);  // the owner's clock is monotonic
  if (now - told_at_ < every_) return;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - since_).count();
  sink_(fmt::format("{}: still failing after {} s, {} more times: {}", what_, seconds,
                    count_ - count_told_, reason));
  told_at_ = now;
  count_told_ = count_;
}

void RepeatedWarning::cleared(Clock::time_point now) {
  if (count_ == 0) return;
  API_BROKER_ASSERT(count_told_ <= count_);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now - since_).count();
  sink_(fmt::format("{}: recovered after {} failed tries over {:.3f} s", what_, count_,
                    static_cast<double>(millis) / 1000.0));
  count_ = 0;
  count_told_ = 0;
}

}  // namespace api_broker::broker
