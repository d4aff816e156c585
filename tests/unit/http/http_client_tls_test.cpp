// The HTTP client over TLS, against the brittle API serving https in-process: trust (a private
// CA, the system's store), hostname and expiry checks, mutual TLS, session resumption, and a
// handshake that stalls. Certificates are made at test time (tests/support/make-test-certs.sh).

#include <utility>  // first: Boost 1.74's asio/awaitable.hpp uses std::exchange without it

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "api_broker/brittle_api/brittle_api.hpp"
#include "api_broker/http/http_client.hpp"
#include "api_broker/limits.hpp"
#include "support/temp_dir.hpp"
#include "support/test_certs.hpp"
#include "unit/http/http_client_fixture.hpp"

namespace api_broker::http {
namespace {

using namespace std::chrono_literals;
using test::run_until;

class HttpClientTlsTest : public test::HttpClientTest {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<testing::TempDir>();
    certs_error_ = testing::make_test_certs(certs_->path());
  }
  static void TearDownTestSuite() { certs_.reset(); }

  void SetUp() override { ASSERT_EQ(certs_error_, ""); }

  static std::string cert(const std::string& name) { return certs_->file(name); }

  // The brittle API serving https with `name`.pem/.key (and requiring client certificates
  // signed by the test CA if `client_ca`); its URL with `host`.
  Url serve(const std::string& name, const std::string& host = "127.0.0.1",
            bool client_ca = false) {
    auto started = brittle_api::Server::start(
        "127.0.0.1:0", brittle_api::Options{.seed = 1,
                                            .tls_cert_file = cert(name + ".pem"),
                                            .tls_key_file = cert(name + ".key"),
                                            .tls_client_ca_file = client_ca ? cert("ca.pem") : ""});
    EXPECT_TRUE(started) << (started ? "" : started.error().message);
    if (!started) return {};
    server_ = std::move(started).value();
    return Url{host, server_->port(), "", Scheme::https};
  }

  static ClientOptions trusting(const std::string& ca) {
    ClientOptions options;
    options.tls.ca_file = ca.empty() ? "" : cert(ca);
    return options;
  }

  Result<Response> post(Client& client, const Url& url, std::chrono::milliseconds limit = 0ms) {
    std::optional<Result<Response>> out;
    client.post(url, "/api", "abc", {}, limit,
                [&](Result<Response> result) { out.emplace(std::move(result)); });
    EXPECT_TRUE(run_until(io_, [&] { return out.has_value(); }));
    if (!out) return fail(Errc::unavailable, "test: no completion");
    return std::move(*out);
  }

  static inline std::unique_ptr<testing::TempDir> certs_;
  static inline std::string certs_error_;
  std::unique_ptr<brittle_api::Server> server_;
};

TEST_F(HttpClientTlsTest, CallsTheApiOverHttpsTrustingAPrivateCa) {
  const Url url = serve("server");
  Client client(io_.get_executor(), trusting("ca.pem"));
  auto result = post(client, url);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "cba");
  EXPECT_EQ(client.tls_handshakes(), 1u);
  EXPECT_EQ(client.tls_resumed(), 0u);
}

TEST_F(HttpClientTlsTest, NamesTheHostAsWellAsTheAddress) {
  const Url url = serve("server", "localhost");
  Client client(io_.get_executor(), trusting("ca.pem"));
  auto result = post(client, url);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, "cba");
}

TEST_F(HttpClientTlsTest, KeepAliveReusesTheConnectionWithoutAHandshake) {
  const Url url = serve("server");
  Client client(io_.get_executor(), trusting("ca.pem"));
  for (int i = 0; i < 3; ++i) {
    auto result = post(client, url);
    ASSERT_TRUE(result) << result.error().message;
  }
  EXPECT_EQ(client.tls_handshakes(), 1u);
  EXPECT_EQ(server_->stats().calls, 3u);
}

TEST_F(HttpClientTlsTest, ANewConnectionResumesTheSession) {
  const Url url = serve("server");
  ClientOptions options = trusting("ca.pem");
  options.idle_connections_max = 0;  // every connection closes after its call
  Client client(io_.get_executor(), options);
  for (int i = 0; i < 3; ++i) {
    auto result = post(client, url);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->body, "cba");
  }
  EXPECT_EQ(client.tls_handshakes(), 3u);
  EXPECT_EQ(client.tls_resumed(), 2u);
}

TEST_F(HttpClientTlsTest, CertificateOfAnotherCaIsRejected) {
  const Url url = serve("server");
  for (const std::string& ca : {std::string("other-ca.pem"), std::string()}) {  // "" = system's
    Client client(io_.get_executor(), trusting(ca));
    auto result = post(client, url);
    ASSERT_FALSE(result) << ca;
    EXPECT_EQ(result.error().code, Errc::rejected) << ca;
    EXPECT_EQ(result.error().message,
              "certificate verify failed: unable to get local issuer certificate")
        << ca;
  }
  EXPECT_EQ(server_->stats().calls, 0u);
}

TEST_F(HttpClientTlsTest, CertificateForAnotherHostIsRejected) {
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    const Url url = serve("wrong-host", host);
    Client client(io_.get_executor(), trusting("ca.pem"));
    auto result = post(client, url);
    ASSERT_FALSE(result) << host;
    EXPECT_EQ(result.error().code, Errc::rejected);
    EXPECT_EQ(result.error().message, host == "localhost"
                                          ? "certificate verify failed: hostname mismatch"
                                          : "certificate verify failed: IP address mismatch");
  }
}

TEST_F(HttpClientTlsTest, ExpiredCertificateIsRejected) {
  const Url url = serve("expired");
  Client client(io_.get_executor(), trusting("ca.pem"));
  auto result = post(client, url);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::rejected);
  EXPECT_EQ(result.error().message, "certificate verify failed: certificate has expired");
}

TEST_F(HttpClientTlsTest, MutualTlsNeedsTheClientCertificate) {
  const Url url = serve("server", "127.0.0.1", true);
  {
    Client client(io_.get_executor(), trusting("ca.pem"));
    auto result = post(client, url);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, Errc::unavailable) << result.error().message;
  }
  ClientOptions options = trusting("ca.pem");
  options.tls.client_cert_file = cert("client.pem");
  options.tls.client_key_file = cert("client.key");
  Client client(io_.get_executor(), options);
  auto result = post(client, url);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, "cba");
  EXPECT_EQ(server_->stats().calls, 1u);
}

// A server that accepts the TCP connection (the kernel does) and never answers the handshake.
TEST_F(HttpClientTlsTest, StallingHandshakeCountsAgainstTheLimits) {
  boost::asio::ip::tcp::acceptor silent(
      io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const Url url{"127.0.0.1", silent.local_endpoint().port(), "", Scheme::https};
  {
    Client client(io_.get_executor(), trusting("ca.pem"));
    auto result = post(client, url, 200ms);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().message, "call exceeded limit of 200 ms");
  }
  ClientOptions options = trusting("ca.pem");
  options.connect_timeout = 200ms;
  Client client(io_.get_executor(), options);
  auto result = post(client, url);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::unavailable);
  EXPECT_EQ(result.error().message, "TLS handshake with " + std::string("127.0.0.1:") +
                                        std::to_string(url.port) + " timed out after 200 ms");
}

// A burst of calls opens at most limits::tls_connections_opening_max connections at once; the
// rest wait (within their limit) instead of starting handshakes that would all stall.
TEST_F(HttpClientTlsTest, ABurstOpensABoundedNumberOfConnectionsAtOnce) {
  boost::asio::ip::tcp::acceptor silent(
      io_, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const Url url{"127.0.0.1", silent.local_endpoint().port(), "", Scheme::https};
  Client client(io_.get_executor(), trusting("ca.pem"));
  constexpr int calls = 40;
  int failed = 0;
  for (int i = 0; i < calls; ++i) {
    client.post(url, "/api", "x", {}, 500ms, [&](Result<Response> result) {
      if (!result) ++failed;
    });
  }
  ASSERT_TRUE(run_until(
      io_, [&] { return client.open_connections() >= limits::tls_connections_opening_max; }));
  io_.run_for(100ms);
  EXPECT_EQ(client.open_connections(), limits::tls_connections_opening_max);
  ASSERT_TRUE(run_until(io_, [&] { return failed == calls; }));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(HttpClientTlsTest, BadFilesAreOneLineErrors) {
  struct Case {
    TlsOptions tls;
    std::string says;
  };
  const Case cases[] = {
      {{.ca_file = cert("missing.pem")}, "cannot read CA file '" + cert("missing.pem") + "': "},
      {{.ca_file = cert("ca.key")}, "CA file '" + cert("ca.key") + "' holds no usable PEM"},
      {{.client_cert_file = cert("client.pem")}, "give both"},
      {{.client_cert_file = cert("client.pem"), .client_key_file = cert("server.key")},
       "does not match the certificate"},
      {{.client_cert_file = cert("client.key"), .client_key_file = cert("client.key")},
       "is not a PEM certificate"},
  };
  for (const Case& c : cases) {
    auto checked = check_tls_options(c.tls);
    ASSERT_FALSE(checked) << c.says;
    EXPECT_EQ(checked.error().code, Errc::invalid_input);
    EXPECT_NE(checked.error().message.find(c.says), std::string::npos) << checked.error().message;
    EXPECT_EQ(checked.error().message.find('\n'), std::string::npos);
  }
  EXPECT_TRUE(check_tls_options({}));
  EXPECT_TRUE(check_tls_options({.ca_file = cert("ca.pem"),
                                 .client_cert_file = cert("client.pem"),
                                 .client_key_file = cert("client.key")}));
  // The client reports the same error for every https call, and sends nothing.
  const Url url = serve("server");
  Client client(io_.get_executor(), trusting("missing.pem"));
  auto result = post(client, url);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::invalid_input);
  EXPECT_NE(result.error().message.find("cannot read CA file"), std::string::npos);
  EXPECT_EQ(server_->stats().calls, 0u);
}

}  // namespace
}  // namespace api_broker::http
