// Any bytes as the API's answer, read by the HTTP client's response parser (Beast's parser
// with the client's CappedBody): it never crashes, never keeps more than the stored cap, never
// accepts more than the read cap, and agrees with Beast's plain string body on the same bytes:
// the stored part is the first bytes of the body, the size is the whole body's, and truncated
// is set exactly when the body is longer than the cap.

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <fuzzer/FuzzedDataProvider.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api_broker/assert.hpp"
#include "capped_body.hpp"  // api_broker_http_internal

using namespace api_broker;
namespace bhttp = boost::beast::http;

namespace {

// Feeds `bytes` to `parser` in pieces of at most `piece` bytes, as reads from a socket would,
// then the end of the stream; true when a whole message was parsed.
template <class Parser>
bool feed(Parser& parser, std::string_view bytes, std::size_t piece) {
  boost::beast::error_code ec;
  std::size_t used = 0;
  std::size_t available = 0;
  while (!parser.is_done()) {
    if (used == available || ec == bhttp::error::need_more) {
      if (available == bytes.size()) {
        ec = {};
        parser.put_eof(ec);
        return !ec && parser.is_done();
      }
      available = std::min(bytes.size(), available + piece);
    }
    ec = {};
    const std::size_t n =
        parser.put(boost::asio::const_buffer(bytes.data() + used, available - used), ec);
    used += n;
    if (ec && ec != bhttp::error::need_more) return false;
    if (n == 0 && !ec) ec = bhttp::error::need_more;  // took nothing: it wants more bytes
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto stored_max = in.ConsumeIntegralInRange<std::size_t>(0, 64);
  const auto read_max = in.ConsumeIntegralInRange<std::uint64_t>(0, 4096);
  const auto piece = in.ConsumeIntegralInRange<std::size_t>(1, 512);
  const std::string bytes = in.ConsumeRemainingBytesAsString();

  bhttp::response_parser<http::detail::CappedBody> capped;
  capped.eager(true);
  capped.get().body().stored_max = stored_max;
  capped.get().body().read_max = read_max;
  const bool capped_ok = feed(capped, bytes, piece);
  const auto& body = capped.get().body();
  API_BROKER_ASSERT(body.data.size() <= stored_max);
  API_BROKER_ASSERT(body.data.size() <= body.size);
  API_BROKER_ASSERT(body.size <= read_max);

  // Not eager: Beast 1.74 drops the body_limit error of a too large Content-Length in eager
  // mode (capped_body.hpp), and the string body would reserve that much.
  bhttp::response_parser<bhttp::string_body> plain;
  plain.body_limit(read_max);
  const bool plain_ok = feed(plain, bytes, piece);
  if (capped_ok && plain_ok) {
    const std::string& whole = plain.get().body();
    API_BROKER_ASSERT(body.size == whole.size());
    API_BROKER_ASSERT(body.data == whole.substr(0, stored_max));
    API_BROKER_ASSERT(capped.get().result_int() == plain.get().result_int());
  }
  if (capped_ok) {
    const bool truncated = body.size > body.data.size();
    API_BROKER_ASSERT(truncated == (body.size > stored_max));
  }
  return 0;
}
