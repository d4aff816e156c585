#pragma once
// Throwaway TLS certificates for the tests, made at test time by
// tests/support/make-test-certs.sh (the openssl command): see that script for the files.

#include <string>

namespace api_broker::testing {

// Makes the certificates in `dir`; "" on success, else a line saying why not.
std::string make_test_certs(const std::string& dir);

}  // namespace api_broker::testing
