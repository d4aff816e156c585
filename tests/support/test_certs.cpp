#include "support/test_certs.hpp"

#include <cstdlib>

namespace api_broker::testing {

std::string make_test_certs(const std::string& dir) {
  const std::string command = std::string("'") + API_BROKER_SOURCE_DIR +
                              "/tests/support/make-test-certs.sh' '" + dir + "' >/dev/null";
  const int status = std::system(command.c_str());  // NOLINT(cert-env33-c): a test's own script
  if (status != 0) return "tests/support/make-test-certs.sh failed (is openssl installed?)";
  return {};
}

}  // namespace api_broker::testing
