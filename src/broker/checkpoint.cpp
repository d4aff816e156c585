#include "api_broker/broker/checkpoint.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api_broker/events/codec.hpp"

namespace api_broker::broker {

std::string encode_checkpoint(const Checkpoint& checkpoint) {
  std::string targets;
  if (checkpoint.targets && !checkpoint.targets->empty()) {
    // Each target as its event states it: decoding folds them again.
    for (const auto& [name, definition] : checkpoint.targets->all()) {
      targets += targets.empty() ? "" : ",";
      targets += events::encode_payload(definition.event);
    }
    targets = fmt::format(R"(,"targets":[{}])", targets);
  }
  return fmt::format(R"({{"after":{},"policy":{}{}}})", events::to_int(checkpoint.after),
                     events::encode_payload(core::to_configuration(checkpoint.policy)), targets);
}

Result<Checkpoint> decode_checkpoint(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  auto corrupt = [&] {
    return fail(Errc::corrupt,
                fmt::format("the stored processor checkpoint is unreadable ('{}'); start the "
                            "processor with --start-after ID to replace it",
                            events::printable(text, 200)));
  };
  if (json.is_discarded() || !json.is_object() || !json.contains("after") ||
      !json["after"].is_number_unsigned() || !json.contains("policy")) {
    return corrupt();
  }
  auto configuration = events::decode_payload("configuration", json["policy"].dump());
  if (!configuration) return corrupt();
  auto policy = core::apply(core::Policy{}, std::get<events::Configuration>(*configuration));
  if (!policy) return corrupt();
  // Checkpoints written before targets existed have none.
  auto targets = std::make_shared<const Targets>();
  if (json.contains("targets")) {
    if (!json["targets"].is_array()) return corrupt();
    for (const auto& item : json["targets"]) {
      auto target = events::decode_payload("target", item.dump());
      if (!target) return corrupt();
      auto next = targets->with(std::get<events::Target>(*target));
      if (!next) return corrupt();
      targets = std::move(*next);
    }
  }
  return Checkpoint{events::EventId{json["after"].get<std::uint64_t>()}, *policy,
                    std::move(targets)};
}

}  // namespace api_broker::broker
