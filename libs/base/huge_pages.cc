#include "libs/base/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace cvt {

bool AdviseHugePages(const void* data, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (data == nullptr || bytes < 2 * kHuge) return false;
  const uintptr_t start =
      (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end =
      (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end <= start) return false;
#ifdef MADV_HUGEPAGE
  return madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE) ==
         0;
#else
  return false;
#endif
}

}  // namespace cvt
