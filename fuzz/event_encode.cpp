// Any event built in code, strings of any bytes included: encode_payload never throws (bytes
// that are not UTF-8 become U+FFFD); the payload decodes whenever the numbers are in the
// ranges the decoder accepts, to the same event when every string is UTF-8, and re-encoding
// the decoded event gives the same payload.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "api_broker/assert.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/limits.hpp"

using namespace api_broker;

namespace {

// nlohmann's strict dump throws on bytes that are not UTF-8.
bool is_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

// Mostly in range, sometimes anything: the decoder must refuse what it cannot represent.
std::uint32_t attempt(FuzzedDataProvider& in) {
  return in.ConsumeBool() ? in.ConsumeIntegralInRange<std::uint32_t>(0, limits::retries_max)
                          : in.ConsumeIntegral<std::uint32_t>();
}

double number(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0:
      return -1;
    case 1:
      return in.ConsumeFloatingPointInRange(0.0, 1e6);
    case 2:
      return static_cast<double>(in.ConsumeIntegral<std::int32_t>());
    default:
      return in.ConsumeFloatingPoint<double>();
  }
}

std::int32_t status(FuzzedDataProvider& in) {
  return in.ConsumeBool() ? in.ConsumeIntegralInRange(0, 999) : in.ConsumeIntegral<std::int32_t>();
}

std::string text(FuzzedDataProvider& in) { return in.ConsumeRandomLengthString(256); }

events::Event make_event(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 8)) {
    case 0:
      return events::Configuration{.retries = in.ConsumeIntegral<std::int64_t>(),
                                   .timeout = number(in),
                                   .backoff_initial = number(in),
                                   .backoff_multiplier = number(in),
                                   .backoff_max = number(in),
                                   .backoff_jitter = number(in),
                                   .deadline = number(in)};
    case 1:
      return events::Simple{text(in)};
    case 2:
      return events::Request{text(in)};
    case 3:
      return events::ApiRequest{attempt(in)};
    case 4:
      return events::ApiResponse{.attempt = attempt(in),
                                 .response = text(in),
                                 .status = status(in),
                                 .truncated = in.ConsumeBool()};
    case 5:
      return events::ApiFailure{.attempt = attempt(in),
                                .failure = text(in),
                                .status = status(in),
                                .body = text(in),
                                .retry_after = number(in),
                                .truncated = in.ConsumeBool()};
    case 6:
      return events::ApiTimeout{attempt(in)};
    case 7:
      return events::RequestSucceeded{.attempts = attempt(in), .attempt = attempt(in)};
    default:
      return events::RequestFailed{.attempts = attempt(in), .reason = text(in)};
  }
}

bool strings_are_utf8(const events::Event& event) {
  return std::visit(
      [](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, events::Simple>) return is_utf8(e.message);
        if constexpr (std::is_same_v<T, events::Request>) return is_utf8(e.request);
        if constexpr (std::is_same_v<T, events::ApiResponse>) return is_utf8(e.response);
        if constexpr (std::is_same_v<T, events::ApiFailure>) {
          return is_utf8(e.failure) && is_utf8(e.body);
        }
        if constexpr (std::is_same_v<T, events::RequestFailed>) return is_utf8(e.reason);
        return true;
      },
      event);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const events::Event event = make_event(in);
  const std::string tag(events::class_name(event));
  const std::string encoded = events::encode_payload(event);
  auto decoded = events::decode_payload(tag, encoded);
  if (!decoded) {
    // Only numbers out of the decoder's ranges may be refused, never the text.
    API_BROKER_ASSERT(decoded.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(decoded.error().message.find("must be") != std::string::npos);
    return 0;
  }
  if (strings_are_utf8(event) && !(*decoded == event)) {
    std::fprintf(stderr, "%s %s decodes to %s\n", tag.c_str(), encoded.c_str(),
                 events::encode_payload(*decoded).c_str());
    API_BROKER_ASSERT(*decoded == event);
  }
  API_BROKER_ASSERT(events::encode_payload(*decoded) == encoded);
  return 0;
}
