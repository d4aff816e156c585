#pragma once
// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it ("ab-processor"): an
// operator sees which part of api-broker spends the CPU. Names longer than 15 bytes are cut.

namespace api_broker {

void name_this_thread(const char* name) noexcept;

}  // namespace api_broker
