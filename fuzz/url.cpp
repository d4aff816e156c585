// Any text as the API URL (--api-url): parse_url never crashes; a refusal is one bounded line;
// an accepted URL prints (to_string) as text that parses back to the same URL, with a valid
// port and a base path without a query, a fragment or a trailing '/'.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api_broker/assert.hpp"
#include "api_broker/http/url.hpp"

using namespace api_broker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto url = http::parse_url(text);
  if (!url) {
    API_BROKER_ASSERT(url.error().code == Errc::invalid_input);
    API_BROKER_ASSERT(url.error().message.find('\n') == std::string::npos);
    // Bounded: the URL and the bad part are each quoted with at most 200 characters.
    API_BROKER_ASSERT(url.error().message.size() < 2000);
    return 0;
  }
  API_BROKER_ASSERT(!url->host.empty());
  API_BROKER_ASSERT(url->port != 0);
  API_BROKER_ASSERT(url->base_path.empty() || url->base_path.front() == '/');
  API_BROKER_ASSERT(url->base_path.empty() || url->base_path.back() != '/');
  API_BROKER_ASSERT(url->base_path.find_first_of("?# ") == std::string::npos);
  auto again = http::parse_url(http::to_string(*url));
  API_BROKER_ASSERT(again.has_value());
  API_BROKER_ASSERT(*again == *url);
  const std::string host = http::host_header(*url);
  API_BROKER_ASSERT(host.find_first_of("\r\n ") == std::string::npos);
  return 0;
}
