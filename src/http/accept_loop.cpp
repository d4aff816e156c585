#include "accept_loop.hpp"

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>

namespace api_broker::http::detail {
namespace {

constexpr std::chrono::milliseconds accept_retry_delay{100};

}  // namespace

AcceptLoop::AcceptLoop(boost::asio::ip::tcp::acceptor& acceptor, std::size_t connections_max,
                       LogLine log, Spawn spawn)
    : acceptor_(acceptor),
      retry_(acceptor.get_executor()),
      connections_max_(connections_max),
      log_(std::move(log)),
      spawn_(std::move(spawn)) {}

void AcceptLoop::start() { accept(); }

void AcceptLoop::stop() {
  stopped_ = true;
  retry_.cancel();
}

void AcceptLoop::connection_ended() { --connections_; }

std::function<void(std::exception_ptr)> AcceptLoop::on_connection_end() {
  return [this](const std::exception_ptr& exception) {
    connection_ended();
    LogEnd{"connection", log_}(exception);
  };
}

void AcceptLoop::accept() {
  acceptor_.async_accept(
      [this](const boost::system::error_code& error, boost::asio::ip::tcp::socket socket) {
        on_accept(error, std::move(socket));
      });
}

void AcceptLoop::on_accept(const boost::system::error_code& error,
                           boost::asio::ip::tcp::socket socket) {
  if (stopped_) return;
  if (error) {
    if (!error_reported_) log_(fmt::format("accept failed: {}", error.message()));
    error_reported_ = true;
    retry_.expires_after(accept_retry_delay);
    retry_.async_wait([this](const boost::system::error_code&) {
      if (!stopped_) accept();
    });
    return;
  }
  error_reported_ = false;
  boost::system::error_code ignored;
  if (connections_ >= connections_max_) {
    socket.close(ignored);
  } else {
    socket.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
    ++connections_;
    spawn_(std::move(socket));
  }
  accept();
}

void LogEnd::operator()(const std::exception_ptr& exception) const noexcept {
  if (!exception) return;
  try {
    std::rethrow_exception(exception);
  } catch (const std::exception& error) {
    log(fmt::format("{} ended: {}", what, error.what()));
  } catch (...) {
    log(fmt::format("{} ended by an unknown exception", what));
  }
}

}  // namespace api_broker::http::detail
