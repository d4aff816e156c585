#include "api_broker/view/live_view.hpp"

namespace api_broker::view {

struct LiveView::Impl {
  RequestView view;
};

LiveView::LiveView(StoreOpener, LiveViewOptions) : impl_(std::make_unique<Impl>()) {}
LiveView::~LiveView() = default;
void LiveView::read(const std::function<void(const RequestView&)>& f) const { f(impl_->view); }
bool LiveView::wait_until(const std::function<bool(const RequestView&)>& pred, TimePoint,
                          const StopSignal&) const {
  return pred(impl_->view);
}
bool LiveView::caught_up() const { return false; }
void LiveView::stop() {}

}  // namespace api_broker::view
