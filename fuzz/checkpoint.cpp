// Any text as the processor's stored checkpoint (the store's checkpoints table is input too):
// decode_checkpoint never crashes and refuses with one line of Errc::corrupt; a checkpoint it
// accepts encodes to text that decodes to the same checkpoint. Any valid policy and position
// survive encode then decode.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "api_broker/assert.hpp"
#include "api_broker/broker/checkpoint.hpp"

using namespace api_broker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  events::Configuration change{
      .retries = in.ConsumeIntegralInRange<std::int64_t>(-1, 1000),
      .timeout = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(0.0, 31536000.0),
      .backoff_initial = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(0.0, 3600.0),
      .backoff_multiplier = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(1.0, 100.0),
      .backoff_max = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(0.0, 31536000.0),
      .backoff_jitter = in.ConsumeBool() ? -1 : in.ConsumeProbability<double>(),
      .deadline = in.ConsumeBool() ? -1 : in.ConsumeFloatingPointInRange(0.0, 31536000.0)};
  if (auto policy = core::apply(core::Policy{}, change)) {
    const broker::Checkpoint made{events::EventId{in.ConsumeIntegral<std::uint64_t>()}, *policy};
    auto decoded = broker::decode_checkpoint(broker::encode_checkpoint(made));
    API_BROKER_ASSERT(decoded.has_value());
    API_BROKER_ASSERT(decoded->after == made.after);
    API_BROKER_ASSERT(decoded->policy == made.policy);
  }

  const std::string text = in.ConsumeRemainingBytesAsString();
  auto checkpoint = broker::decode_checkpoint(text);
  if (!checkpoint) {
    API_BROKER_ASSERT(checkpoint.error().code == Errc::corrupt);
    API_BROKER_ASSERT(checkpoint.error().message.find('\n') == std::string::npos);
    return 0;
  }
  const std::string encoded = broker::encode_checkpoint(*checkpoint);
  auto again = broker::decode_checkpoint(encoded);
  API_BROKER_ASSERT(again.has_value());
  API_BROKER_ASSERT(again->after == checkpoint->after);
  API_BROKER_ASSERT(again->policy == checkpoint->policy);
  API_BROKER_ASSERT(broker::encode_checkpoint(*again) == encoded);
  return 0;
}
