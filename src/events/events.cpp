#include "api_broker/events/events.hpp"

#include "api_broker/events/codec.hpp"

namespace api_broker::events {

std::string_view class_name(const Event& event) { return class_names()[event.index()]; }

}  // namespace api_broker::events
