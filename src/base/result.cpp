#include "api_broker/result.hpp"

namespace api_broker {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::duplicate:
      return "duplicate";
    case Errc::not_found:
      return "not found";
    case Errc::unavailable:
      return "unavailable";
    case Errc::corrupt:
      return "corrupt";
    case Errc::invalid_input:
      return "invalid input";
    case Errc::unsupported:
      return "unsupported";
    case Errc::cancelled:
      return "cancelled";
    case Errc::fenced:
      return "fenced";
    case Errc::rejected:
      return "rejected";
  }
  return "unknown";
}

}  // namespace api_broker
