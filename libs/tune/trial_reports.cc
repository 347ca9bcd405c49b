#include "libs/tune/trial_reports.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "libs/tracking/run_directory.h"

namespace cvt {
namespace {

constexpr int64_t kTailBytes = 32;

// The `length` bytes before `end` in the file, or "" (and false) when the
// file is missing or shorter.
bool ReadBefore(const std::string& path, int64_t end, int64_t length,
                std::string* out) {
  out->clear();
  if (length == 0) return true;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->resize(static_cast<size_t>(length));
  const ssize_t n = pread(fd, out->data(), out->size(), end - length);
  close(fd);
  if (n != length) {
    out->clear();
    return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<TrialReport>> ReadNewReports(
    const std::string& metrics_path, const std::string& metric,
    ReportCursor& cursor) {
  std::string tail;
  if (cursor.offset > 0 &&
      (!ReadBefore(metrics_path, cursor.offset,
                   static_cast<int64_t>(cursor.tail.size()), &tail) ||
       tail != cursor.tail)) {
    cursor.offset = 0;  // Truncated or rewritten: start over.
    cursor.tail.clear();
  }
  absl::StatusOr<MetricChunk> chunk =
      ReadMetricLines(metrics_path, cursor.offset, INT64_MAX);
  if (!chunk.ok() && cursor.offset > 0) {
    cursor.offset = 0;
    cursor.tail.clear();
    chunk = ReadMetricLines(metrics_path, 0, INT64_MAX);
  }
  if (!chunk.ok()) return chunk.status();
  std::vector<TrialReport> reports;
  for (const MetricPoint& point : chunk->points) {
    if (point.name != metric || point.epoch < 0) continue;
    const int64_t time = point.epoch + 1;
    if (time <= cursor.last_time) continue;
    reports.push_back({time, point.value, point.timestamp_ms});
    cursor.last_time = time;
  }
  if (chunk->next_offset != cursor.offset) {
    const int64_t length = std::min(kTailBytes, chunk->next_offset);
    if (!ReadBefore(metrics_path, chunk->next_offset, length, &cursor.tail)) {
      cursor.tail.clear();
      cursor.offset = 0;  // Changed under us; the next read starts over.
      return reports;
    }
    cursor.offset = chunk->next_offset;
  }
  return reports;
}

}  // namespace cvt
