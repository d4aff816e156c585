#include "api_broker/broker/resume_point.hpp"

namespace api_broker::broker {

Result<Checkpoint> load_resume_point(store::EventStore& store, std::string_view name,
                                     std::optional<events::EventId> start_after) {
  if (start_after) return Checkpoint{.after = *start_after};
  auto saved = store.load_checkpoint(name);
  if (!saved) return fail(std::move(saved).error());
  if (!*saved) return Checkpoint{};
  return decode_checkpoint(**saved);
}

}  // namespace api_broker::broker
