#include "api_broker/view/request_view.hpp"

namespace api_broker::view {

std::uint64_t Counts::of(core::Phase phase) const {
  switch (phase) {
    case core::Phase::waiting:
      return waiting;
    case core::Phase::in_flight:
      return in_flight;
    case core::Phase::backing_off:
      return backing_off;
    case core::Phase::succeeded:
      return succeeded;
    case core::Phase::failed:
      return failed;
  }
  return 0;
}

struct RequestView::Impl {
  events::EventId last{};
};

RequestView::RequestView() : impl_(std::make_unique<Impl>()) {}
RequestView::~RequestView() = default;
RequestView::RequestView(RequestView&&) noexcept = default;
RequestView& RequestView::operator=(RequestView&&) noexcept = default;

void RequestView::apply(const events::Envelope& envelope) { impl_->last = envelope.id; }
events::EventId RequestView::last_applied() const { return impl_->last; }
std::optional<RequestSummary> RequestView::summary(events::EventId) const { return {}; }
std::optional<RequestDetail> RequestView::detail(events::EventId) const { return {}; }
std::optional<events::EventId> RequestView::find(const events::Uuid&) const { return {}; }
ListPage RequestView::list(const ListQuery&) const { return {}; }
Counts RequestView::counts() const { return {}; }
Counts RequestView::counts(std::string_view) const { return {}; }
std::size_t RequestView::memory_bytes() const { return 0; }

}  // namespace api_broker::view
