// policy/throttle.cpp — see throttle.h for the model and the states of a parked fault.
#include "policy/throttle.h"

namespace uzswap::policy {
namespace {

constexpr uint64_t kMinMargin = 4ull << 20;

// Past limit + margin, with reclaim able to bring the footprint down.
bool under_pressure(const ThrottleConfig& c, const ThrottleInputs& in) {
  if (!c.enabled || c.limit_bytes == 0 || in.unreachable || in.pool_full) return false;
  return in.estimate_bytes > c.limit_bytes + c.margin_bytes;
}

}  // namespace

uint64_t throttle_margin(uint64_t limit_bytes) {
  uint64_t m = limit_bytes / 32;
  return m > kMinMargin ? m : kMinMargin;
}

bool should_park(const ThrottleConfig& config, const ThrottleInputs& in) {
  return under_pressure(config, in);
}

bool should_assist(const ThrottleConfig& config, const ThrottleInputs& in) {
  return under_pressure(config, in);
}

Release release_parked(const ThrottleConfig& config, const ThrottleInputs& in, uint64_t parked_ns,
                       uint64_t now_ns) {
  if (!under_pressure(config, in)) return Release::Relieved;
  if (release_deadline_in(config, parked_ns, now_ns) == 0) return Release::Timeout;
  return Release::Keep;
}

uint64_t release_deadline_in(const ThrottleConfig& config, uint64_t parked_ns, uint64_t now_ns) {
  uint64_t waited = now_ns > parked_ns ? now_ns - parked_ns : 0;
  return waited >= config.max_delay_ns ? 0 : config.max_delay_ns - waited;
}

}  // namespace uzswap::policy
