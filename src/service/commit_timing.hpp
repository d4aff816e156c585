#pragma once
// Store commits measured for the metrics: a decorator around a store that reports each batch it
// commits (append_batch, append_batch_fenced; append() is one) to Metrics::observe_commit with its
// size and the time it took. The service wraps the store of its HTTP submissions
// (Writer::submissions) and, with `serve --process`, the processor's (Writer::processor), so
// neither needs to know about metrics. Like any store: one owner thread.

#include <memory>

#include "api_broker/broker/processor.hpp"
#include "api_broker/store/event_store.hpp"
#include "metrics.hpp"

namespace api_broker::service {

// REQUIRES: `metrics` outlives the store.
std::unique_ptr<store::EventStore> measure_commits(std::unique_ptr<store::EventStore> inner,
                                                   Metrics& metrics, Writer writer);

// An opener whose stores measure their commits.
broker::StoreOpener measure_commits(broker::StoreOpener open, Metrics& metrics, Writer writer);

}  // namespace api_broker::service
