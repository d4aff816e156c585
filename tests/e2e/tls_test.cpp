// End-to-end over TLS: the real processor calling the real brittle API serving https, with
// certificates made at test time (tests/support/make-test-certs.sh). A good certificate
// succeeds; a certificate that fails verification ends its request after one attempt, with
// the reason, as a permanent api-failure; mutual TLS needs the client certificate.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "e2e/broker_fixture.hpp"
#include "support/test_certs.hpp"

namespace api_broker::testing {
namespace {

using namespace std::chrono_literals;

class BrokerTls : public ::testing::Test, public BrokerFixture {
 protected:
  void SetUp() override {
    use_backend("sqlite");
    ASSERT_EQ(make_test_certs(certs.path()), "");
    // Three retries, quickly: a failure that is retried shows as several attempts.
    ASSERT_EQ(cli({"configure", "--retries", "3", "--backoff-initial", "0.01"}).exit_code, 0);
  }

  // The brittle API serving https with `name`.pem/.key; its URL with `host`.
  std::string start_tls_api(const std::string& name, const std::string& host = "127.0.0.1",
                            std::vector<std::string> more = {}) {
    std::vector<std::string> flags{"--tls-cert", certs.file(name + ".pem"), "--tls-key",
                                   certs.file(name + ".key")};
    flags.insert(flags.end(), more.begin(), more.end());
    if (start_api(flags).empty()) return {};
    return "https://" + host + ":" + std::to_string(port);
  }

  std::vector<std::string> trusting(const std::string& ca) const {
    return {"--ca-file", certs.file(ca)};
  }

  // One request through a processor with `flags` against `url`, finished; `list` afterwards.
  std::string one_request(const std::string& url, const std::vector<std::string>& flags) {
    EXPECT_EQ(insert_requests(1).size(), 1u);
    auto processor = start_processor(url, flags);
    auto verified = wait_until_all_finished(30s);
    EXPECT_EQ(verified.exit_code, 0) << verified.out << read_file(dir.file("processor.err"));
    last_verify = verified.out;
    return cli({"list"}).out;
  }

  // Ended at once: one attempt, one permanent api-failure with `reason`, request failed.
  void expect_rejected(const std::string& listed, const std::string& reason) {
    EXPECT_NE(last_verify.find("(0 succeeded, 1 failed, 0 open), 1 attempts"), std::string::npos)
        << last_verify;
    EXPECT_EQ(count_in(listed, "api-failure"), 1u) << listed;
    EXPECT_EQ(count_in(listed, "\"permanent\":true"), 1u) << listed;
    EXPECT_EQ(count_in(listed, "certificate verify failed: " + reason), 2u)  // failure, reason
        << listed;
    EXPECT_NE(listed.find("attempt 0 failed permanently"), std::string::npos) << listed;
    EXPECT_EQ(read_file(calls_log()), "");  // the API never saw a request
  }

  TempDir certs;
  std::string last_verify;
};

TEST_F(BrokerTls, GoodCertificateSucceeds) {
  const std::string url = start_tls_api("server");
  ASSERT_FALSE(url.empty());
  ASSERT_EQ(insert_requests(5).size(), 5u);
  auto processor = start_processor(url, trusting("ca.pem"));
  auto verified = wait_until_all_finished(30s);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << read_file(dir.file("processor.err"));
  EXPECT_NE(verified.out.find("(5 succeeded, 0 failed, 0 open)"), std::string::npos)
      << verified.out;
  const std::string listed = cli({"list"}).out;
  EXPECT_NE(listed.find("0qer"), std::string::npos) << listed;  // "req0" reversed by the API
}

TEST_F(BrokerTls, CertificateOfAnUntrustedCaFailsAtOnce) {
  const std::string url = start_tls_api("server");
  ASSERT_FALSE(url.empty());
  expect_rejected(one_request(url, trusting("other-ca.pem")),
                  "unable to get local issuer certificate");
}

TEST_F(BrokerTls, CertificateForAnotherHostFailsAtOnce) {
  const std::string url = start_tls_api("wrong-host", "localhost");
  ASSERT_FALSE(url.empty());
  expect_rejected(one_request(url, trusting("ca.pem")), "hostname mismatch");
}

TEST_F(BrokerTls, ExpiredCertificateFailsAtOnce) {
  const std::string url = start_tls_api("expired");
  ASSERT_FALSE(url.empty());
  expect_rejected(one_request(url, trusting("ca.pem")), "certificate has expired");
}

TEST_F(BrokerTls, MutualTlsWithoutTheClientCertificateFails) {
  const std::string url =
      start_tls_api("server", "127.0.0.1", {"--tls-client-ca", certs.file("ca.pem")});
  ASSERT_FALSE(url.empty());
  const std::string listed = one_request(url, trusting("ca.pem"));
  // The server refuses the handshake: not the certificate of the API, so it is retried.
  EXPECT_NE(last_verify.find("(0 succeeded, 1 failed, 0 open), 4 attempts"), std::string::npos)
      << last_verify;
  EXPECT_EQ(count_in(listed, "\"permanent\":true"), 0u) << listed;
  EXPECT_EQ(read_file(calls_log()), "");
}

TEST_F(BrokerTls, MutualTlsWithTheClientCertificateSucceeds) {
  const std::string url =
      start_tls_api("server", "127.0.0.1", {"--tls-client-ca", certs.file("ca.pem")});
  ASSERT_FALSE(url.empty());
  std::vector<std::string> flags = trusting("ca.pem");
  flags.insert(flags.end(), {"--client-cert", certs.file("client.pem"), "--client-key",
                             certs.file("client.key")});
  one_request(url, flags);
  EXPECT_NE(last_verify.find("(1 succeeded, 0 failed, 0 open), 1 attempts"), std::string::npos)
      << last_verify;
}

TEST_F(BrokerTls, BadTlsFilesAreOneLineErrors) {
  const std::vector<std::vector<std::string>> cases = {
      {"--ca-file", certs.file("missing.pem")},
      {"--ca-file", certs.file("ca.key")},
      {"--client-cert", certs.file("client.pem")},
      {"--client-cert", certs.file("client.pem"), "--client-key", certs.file("server.key")},
  };
  for (const auto& flags : cases) {
    std::vector<std::string> args{"process", "--api-url", "https://127.0.0.1:9"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto out = cli(args);
    EXPECT_EQ(out.exit_code, 2) << flags[1] << ": " << out.err;
    EXPECT_EQ(count_in(out.err, "\n"), 1u) << out.err;
  }
  for (const auto& flags : std::vector<std::vector<std::string>>{
           {"--tls-cert", certs.file("server.pem")},
           {"--tls-cert", certs.file("server.pem"), "--tls-key", certs.file("client.key")},
           {"--tls-client-ca", certs.file("ca.pem")}}) {
    std::vector<std::string> args{"brittle-api", "serve", "127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto out = api_broker(args);
    EXPECT_NE(out.exit_code, 0) << out.err;
    EXPECT_EQ(count_in(out.err, "\n"), 1u) << out.err;
  }
}

}  // namespace
}  // namespace api_broker::testing
