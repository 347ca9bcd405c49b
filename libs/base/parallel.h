// -----------------------------------------------------------------------------
// File: parallel.h
// -----------------------------------------------------------------------------
//
// A minimal parallel-for over an index range. Work is handed out in index
// order through an atomic counter; callers write results into per-index
// slots, so results never depend on the thread count or on timing.

#ifndef LIBS_BASE_PARALLEL_H_
#define LIBS_BASE_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace cvt {

// Resolves a --threads value: 0 means all cores (at least 1).
int ResolveThreads(int threads);

// Calls `fn(i)` for every i in [0, n) on up to `threads` threads (the
// calling thread included) and returns when all calls have returned.
// `fn` must not throw.
void ParallelFor(int64_t n, int threads,
                 const std::function<void(int64_t)>& fn);

}  // namespace cvt

#endif  // LIBS_BASE_PARALLEL_H_
