# preload/stats_export.cmake — the stats export's sources, part of the core library so
# the preload library and the tests link it. include() it once (guarded).
include_guard(GLOBAL)
target_sources(uzswap_core PRIVATE
  ${CMAKE_SOURCE_DIR}/preload/stats_export.cpp
  ${CMAKE_SOURCE_DIR}/preload/stats_gauges.cpp
  ${CMAKE_SOURCE_DIR}/preload/stats_region.cpp)
