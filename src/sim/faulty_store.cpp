#include "faulty_store.hpp"

namespace api_broker::sim {

using namespace std::chrono_literals;

StoreFaults draw_store_faults(Random& random) {
  StoreFaults f;
  const bool faulty = random.chance(0.7);
  f.commit_fails = faulty ? random.unit() * 0.1 : 0.0;
  f.commit_unacknowledged = faulty ? random.unit() * 0.05 : 0.0;
  f.read_fails = faulty ? random.unit() * 0.05 : 0.0;
  f.save_fails = faulty ? random.unit() * 0.2 : 0.0;
  f.load_fails = faulty ? random.unit() * 0.2 : 0.0;
  f.latency_low = random.between(Duration(20), Duration(500));
  f.latency_high = f.latency_low + random.between(Duration(0), Duration(3ms));
  f.slow = faulty ? random.unit() * 0.02 : 0.0;
  f.slow_low = random.between(Duration(10ms), Duration(200ms));
  f.slow_high = f.slow_low + random.between(Duration(0), Duration(800ms));
  f.read_limit = random.chance(0.3) ? random.between(1, 8) : 512;
  return f;
}

bool FaultyStore::injected(double p) {
  if (!random_.chance(p)) return false;
  ++injected_;
  return true;
}

Result<std::vector<events::EventId>> FaultyStore::append_batch(
    std::span<const events::NewEvent> batch) {
  if (injected(faults_.commit_fails)) return fail(Errc::unavailable, "injected fault");
  return store_.append_batch(batch);
}

Result<std::vector<events::EventId>> FaultyStore::append_batch_fenced(
    std::span<const events::NewEvent> batch, const store::Fence& fence) {
  if (injected(faults_.commit_fails)) return fail(Errc::unavailable, "injected fault");
  auto ids = store_.append_batch_fenced(batch, fence);
  // The connection broke after the commit, before its answer.
  if (ids && injected(faults_.commit_unacknowledged)) {
    return fail(Errc::unavailable, "injected fault after the commit");
  }
  return ids;
}

Result<events::Envelope> FaultyStore::get(events::EventId id) {
  if (injected(faults_.load_fails)) return fail(Errc::unavailable, "injected fault");
  return store_.get(id);
}

Result<std::vector<events::Envelope>> FaultyStore::read_after(events::EventId after,
                                                              std::size_t limit) {
  if (injected(faults_.read_fails)) return fail(Errc::unavailable, "injected fault");
  return store_.read_after(after, limit);
}

Result<void> FaultyStore::save_checkpoint(std::string_view name, std::string_view value) {
  if (injected(faults_.save_fails)) return fail(Errc::unavailable, "injected fault");
  return store_.save_checkpoint(name, value);
}

Result<store::LeaseHolder> FaultyStore::acquire_lease(std::string_view name, std::string_view owner,
                                                      std::chrono::milliseconds ttl) {
  if (injected(faults_.commit_fails)) return fail(Errc::unavailable, "injected fault");
  return store_.acquire_lease(name, owner, ttl);
}

}  // namespace api_broker::sim
