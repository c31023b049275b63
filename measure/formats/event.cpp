#include <measure/formats/event.hpp>

namespace mrforge {

const char *register_name(Register r) {
  switch (r) {
  case Register::rtmr0: return "rtmr0";
  case Register::rtmr1: return "rtmr1";
  case Register::rtmr2: return "rtmr2";
  case Register::rtmr3: return "rtmr3";
  }
  return "?";
}

RtmrValues fold_events(const std::vector<Event> &events) {
  RtmrValues mr{};
  for (const Event &e : events) extend(mr[static_cast<size_t>(e.reg)], e.digest);
  return mr;
}

} // namespace mrforge
