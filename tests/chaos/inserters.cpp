#include "chaos/inserters.hpp"

#include <fmt/format.h>

#include <random>

#include "support/process.hpp"

namespace api_broker::chaos {

using namespace std::chrono_literals;

std::string request_uuid(std::uint64_t seed, int index) {
  std::mt19937_64 random(
      seed ^ (std::uint64_t{0x9e3779b97f4a7c15} * static_cast<std::uint64_t>(index + 1)));
  const std::uint64_t high = random();
  const std::uint64_t low = random();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", high >> 32, (high >> 16) & 0xffff,
                     high & 0xfff, 0x8000 | ((low >> 48) & 0x3fff), low & 0xffffffffffffULL);
}

Inserters::Inserters(InsertPlan plan) : plan_(std::move(plan)) {
  inserts_.resize(static_cast<std::size_t>(plan_.requests));
  const int clients = std::max(1, plan_.clients);
  for (int c = 0; c < clients; ++c) clients_.emplace_back([this, c] { client(c); });
}

Inserters::~Inserters() { join(); }

std::vector<Insert> Inserters::join() {
  for (auto& client : clients_) {
    if (client.joinable()) client.join();
  }
  return inserts_;
}

// Client `first` inserts requests first, first + clients, ...: the requests go in roughly in
// index order, whatever the number of clients.
void Inserters::client(int first) {
  const int clients = std::max(1, plan_.clients);
  for (int index = first; index < plan_.requests; index += clients) {
    inserts_[static_cast<std::size_t>(index)] = insert_one(index);
  }
  ++clients_done_;
}

Insert Inserters::insert_one(int index) {
  Insert insert{.uuid = request_uuid(plan_.seed, index)};
  std::vector<std::string> args = plan_.store_args;
  args.insert(args.end(), {"insert", "request", fmt::format("chaos-{}", index), "--external-uuid",
                           insert.uuid});
  const auto give_up_at = std::chrono::steady_clock::now() + plan_.give_up_after;
  auto delay = 20ms;
  for (;;) {
    if (plan_.cancelled && plan_.cancelled()) {
      insert.last_error = "cancelled";
      return insert;
    }
    ++insert.tries;
    const testing::Output out = testing::api_broker(args, {}, std::chrono::seconds(60));
    // 0: stored now. 3: stored by an earlier try whose answer was lost (the external UUID is
    // unique). Only a retry may meet a duplicate: every UUID is inserted by one client.
    if (out.exit_code == 0 || (out.exit_code == 3 && insert.tries > 1)) {
      insert.stored = true;
      insert.found_on_retry = out.exit_code == 3;
      ++stored_;
      return insert;
    }
    insert.last_error = fmt::format("exit {}: {}", out.exit_code, out.err);
    // 1: the store failed (down, restarting, locked); anything else will not get better.
    if (out.exit_code != 1 && !out.timed_out) return insert;
    if (std::chrono::steady_clock::now() > give_up_at) return insert;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(500));
  }
}

}  // namespace api_broker::chaos
