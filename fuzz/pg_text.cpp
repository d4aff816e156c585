// The PostgreSQL store's text helpers on any input: redact_password and one_line never crash;
// a password in a URL or a password= setting never survives them; their output is one line;
// without_nul_escapes keeps any encoded payload valid JSON that decodes to the same event
// less its U+0000 characters.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "api_broker/assert.hpp"
#include "api_broker/events/codec.hpp"
#include "api_broker/store/redact.hpp"
#include "postgresql_support.hpp"  // api_broker_store_postgresql_internal

using namespace api_broker;

namespace {

// A password libpq would take in a URL as it is: no delimiters, long enough not to occur by
// chance elsewhere in the text.
std::string password(FuzzedDataProvider& in) {
  static constexpr char alphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$*+,;";
  std::string out = "Pw";
  const auto length = in.ConsumeIntegralInRange<std::size_t>(6, 24);
  for (std::size_t i = 0; i < length; ++i) {
    out += alphabet[in.ConsumeIntegralInRange<std::size_t>(0, sizeof(alphabet) - 2)];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string secret = password(in);
  const std::string before = in.ConsumeRandomLengthString(64);
  const std::string after = in.ConsumeRandomLengthString(64);
  const std::string text = in.ConsumeRandomLengthString(512);

  // A message quoting a URL or a conninfo with the password, inside any text.
  for (const std::string& leaked :
       {before + " postgresql://user:" + secret + "@host:5432/db " + after,
        before + " host=db password=" + secret + " user=u " + after,
        before + " host=db password='" + secret + "' user=u " + after,
        before + " postgresql://host/db?password=" + secret + "&sslmode=disable " + after}) {
    if (before.find(secret) != std::string::npos || after.find(secret) != std::string::npos) {
      break;
    }
    const std::string redacted = store::redact_password(leaked);
    if (redacted.find(secret) != std::string::npos) {
      std::fprintf(stderr, "leaked: [%s]\nredacted: [%s]\n",
                   events::printable(leaked, 2000).c_str(),
                   events::printable(redacted, 2000).c_str());
    }
    API_BROKER_ASSERT(redacted.find(secret) == std::string::npos);
    const std::string line = store::pg::one_line(leaked);
    API_BROKER_ASSERT(line.find(secret) == std::string::npos);
    API_BROKER_ASSERT(line.find('\n') == std::string::npos);
  }
  (void)store::redact_password(text);
  API_BROKER_ASSERT(store::pg::one_line(text).find('\n') == std::string::npos);

  // A payload with U+0000 anywhere, as the store sends it to jsonb.
  const events::Event event = events::Request{text};
  const std::string payload = store::pg::without_nul_escapes(events::encode_payload(event));
  auto decoded = events::decode_payload("request", payload);
  API_BROKER_ASSERT(decoded.has_value());
  const std::string& stored = std::get<events::Request>(*decoded).request;
  API_BROKER_ASSERT(stored.find('\0') == std::string::npos);
  if (text.find('\0') == std::string::npos) {
    API_BROKER_ASSERT(events::encode_payload(*decoded) == events::encode_payload(event));
  }
  return 0;
}
