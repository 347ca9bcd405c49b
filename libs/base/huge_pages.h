// -----------------------------------------------------------------------------
// File: huge_pages.h
// -----------------------------------------------------------------------------
//
// Asks the kernel to back a large, not yet touched buffer with transparent
// huge pages (2 MiB). Filling a fresh 50 MB buffer costs ~12,000 page faults
// with 4 KiB pages and ~25 with huge pages; on kernels where THP is in
// "madvise" mode (Debian's default) nothing happens without asking.
//
// Example:
//
//   std::vector<Detection> out;
//   out.reserve(n);
//   AdviseHugePages(out.data(), n * sizeof(Detection));  // Before writing.

#ifndef LIBS_BASE_HUGE_PAGES_H_
#define LIBS_BASE_HUGE_PAGES_H_

#include <cstddef>

namespace cvt {

// Advises MADV_HUGEPAGE for the whole 2 MiB pages inside [data, data+bytes).
// A hint only: returns whether the kernel accepted it; buffers under 4 MiB
// are left alone.
bool AdviseHugePages(const void* data, size_t bytes);

}  // namespace cvt

#endif  // LIBS_BASE_HUGE_PAGES_H_
