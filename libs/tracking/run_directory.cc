#include "libs/tracking/run_directory.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/sha256.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace cvt {
namespace {

using Object = rapidjson::Value;

absl::Status FieldError(const std::string& path, absl::string_view field,
                        absl::string_view want) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": \"", field, "\" must be ", want));
}

// Accepts a JSON number, or the strings "NaN", "Infinity", "-Infinity".
bool NumberValue(const rapidjson::Value& v, double* out) {
  if (v.IsNumber()) {
    *out = v.GetDouble();
    return true;
  }
  if (v.IsString()) {
    absl::string_view s(v.GetString(), v.GetStringLength());
    if (s == "NaN" || s == "nan") {
      *out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    if (s == "Infinity" || s == "inf") {
      *out = std::numeric_limits<double>::infinity();
      return true;
    }
    if (s == "-Infinity" || s == "-inf") {
      *out = -std::numeric_limits<double>::infinity();
      return true;
    }
  }
  return false;
}

std::string StringOr(const Object& o, const char* key) {
  auto it = o.FindMember(key);
  return it != o.MemberEnd() && it->value.IsString() ? it->value.GetString()
                                                     : "";
}

int64_t IntOr(const Object& o, const char* key, int64_t fallback) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return fallback;
  if (it->value.IsInt64()) return it->value.GetInt64();
  if (it->value.IsDouble() && std::isfinite(it->value.GetDouble())) {
    return static_cast<int64_t>(it->value.GetDouble());
  }
  return fallback;
}

absl::Status ReadStringMap(const Object& o, const char* key,
                           const std::string& path,
                           std::map<std::string, std::string>* out) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || it->value.IsNull()) return absl::OkStatus();
  if (!it->value.IsObject()) {
    return FieldError(path, key, "an object of strings");
  }
  for (const auto& m : it->value.GetObject()) {
    std::string name = m.name.GetString();
    if (m.value.IsString()) {
      (*out)[name] = m.value.GetString();
    } else if (m.value.IsBool()) {
      (*out)[name] = m.value.GetBool() ? "True" : "False";
    } else if (m.value.IsInt64()) {
      (*out)[name] = std::to_string(m.value.GetInt64());
    } else if (m.value.IsNumber()) {
      (*out)[name] = FormatDouble(m.value.GetDouble());
    } else {
      return FieldError(path, absl::StrCat(key, ".", name),
                        "a string, number or boolean");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunRecord> ReadRunRecord(const std::string& run_dir) {
  std::string path = absl::StrCat(run_dir, "/run.json");
  absl::StatusOr<rapidjson::Document> doc = ReadJsonFile(path);
  if (!doc.ok()) return doc.status();
  if (!doc->IsObject()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a JSON object"));
  }
  RunRecord run;
  run.status = StringOr(*doc, "status");
  if (run.status != "RUNNING" && run.status != "FINISHED" &&
      run.status != "FAILED" && run.status != "KILLED") {
    return FieldError(path, "status",
                      "one of RUNNING, FINISHED, FAILED, KILLED");
  }
  run.start_time_ms = IntOr(*doc, "start_time_ms", 0);
  if (run.start_time_ms <= 0) {
    return FieldError(path, "start_time_ms", "a positive integer");
  }
  run.end_time_ms = IntOr(*doc, "end_time_ms", 0);
  run.run_name = StringOr(*doc, "run_name");
  run.task = StringOr(*doc, "task");
  run.model_name = StringOr(*doc, "model_name");
  run.pid = IntOr(*doc, "pid", 0);
  run.hostname = StringOr(*doc, "hostname");
  run.heartbeat_ms = IntOr(*doc, "heartbeat_ms", 0);
  absl::Status s =
      ReadStringMap(*doc, "hyperparameters", path, &run.hyperparameters);
  if (!s.ok()) return s;
  s = ReadStringMap(*doc, "tags", path, &run.tags);
  if (!s.ok()) return s;
  return run;
}

bool TrainerIsGone(const RunRecord& run, int64_t now_ms,
                   int64_t stale_after_ms) {
  if (run.status != "RUNNING") return false;
  char host[HOST_NAME_MAX + 1] = {0};
  gethostname(host, sizeof(host) - 1);
  bool same_host = run.hostname.empty() || run.hostname == host;
  if (run.pid > 0 && same_host) {
    if (kill(static_cast<pid_t>(run.pid), 0) != 0 && errno == ESRCH) {
      return true;
    }
    return false;
  }
  if (run.heartbeat_ms > 0) return now_ms - run.heartbeat_ms > stale_after_ms;
  return false;
}

absl::StatusOr<MetricChunk> ReadMetricLines(const std::string& path,
                                            int64_t offset, int64_t max_points,
                                            int64_t first_line) {
  MetricChunk chunk;
  chunk.next_offset = offset;
  // Read from `offset` on only: a live metrics.jsonl only grows.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return chunk;
    return ErrnoStatus(errno, "cannot open", path);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int saved = errno;
    close(fd);
    return ErrnoStatus(saved, "cannot stat", path);
  }
  if (offset > st.st_size) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is shorter (", st.st_size, " bytes) than the ", offset,
        " bytes already pushed: it was truncated or replaced"));
  }
  std::string text(static_cast<size_t>(st.st_size - offset), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = pread(fd, text.data() + got, text.size() - got,
                      offset + static_cast<int64_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  text.resize(got);
  absl::string_view rest = text;
  int64_t line_number = first_line;
  while (static_cast<int64_t>(chunk.points.size()) < max_points) {
    size_t newline = rest.find('\n');
    if (newline == absl::string_view::npos) break;  // Incomplete line.
    absl::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline + 1);
    chunk.next_offset += static_cast<int64_t>(newline + 1);
    ++chunk.lines;
    ++line_number;
    bool blank = true;
    for (char c : line) blank = blank && (c == ' ' || c == '\t' || c == '\r');
    if (blank) continue;
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseNanAndInfFlag |
              rapidjson::kParseFullPrecisionFlag>(line.data(), line.size());
    std::string where = absl::StrCat(path, ":", line_number - 1);
    if (doc.HasParseError()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": ", rapidjson::GetParseError_En(doc.GetParseError())));
    }
    MetricPoint point;
    auto name = doc.IsObject() ? doc.FindMember("name") : doc.MemberEnd();
    auto value = doc.IsObject() ? doc.FindMember("value") : doc.MemberEnd();
    if (!doc.IsObject() || name == doc.MemberEnd() || !name->value.IsString() ||
        name->value.GetStringLength() == 0 || value == doc.MemberEnd() ||
        !NumberValue(value->value, &point.value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          ": expected {\"name\": string, \"value\": number, \"step\", "
          "\"timestamp_ms\"}"));
    }
    point.name = name->value.GetString();
    point.step = IntOr(doc, "step", 0);
    point.epoch = IntOr(doc, "epoch", -1);
    point.timestamp_ms = IntOr(doc, "timestamp_ms", -1);
    if (point.timestamp_ms < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"timestamp_ms\" must be an integer >= 0"));
    }
    chunk.points.push_back(std::move(point));
    chunk.end_offsets.push_back(chunk.next_offset);
  }
  return chunk;
}

absl::StatusOr<std::vector<CheckpointRecord>> ReadCheckpointRecords(
    const std::string& run_dir) {
  std::string path = absl::StrCat(run_dir, "/checkpoints/checkpoints.json");
  absl::StatusOr<std::vector<CheckpointRecord>> records =
      ReadCheckpointIndex(path);
  if (!records.ok() && records.status().code() == absl::StatusCode::kNotFound) {
    return std::vector<CheckpointRecord>();
  }
  return records;
}

absl::StatusOr<std::vector<CheckpointRecord>> ReadCheckpointIndex(
    const std::string& path) {
  std::vector<CheckpointRecord> records;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseNanAndInfFlag |
            rapidjson::kParseFullPrecisionFlag>(text->data(), text->size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a JSON object"));
  }
  auto list = doc.FindMember("checkpoints");
  if (list == doc.MemberEnd() || !list->value.IsArray()) {
    return FieldError(path, "checkpoints", "an array");
  }
  for (const auto& item : list->value.GetArray()) {
    if (!item.IsObject() || StringOr(item, "file").empty()) {
      return FieldError(path, "checkpoints[].file", "a non-empty string");
    }
    CheckpointRecord record;
    record.file = StringOr(item, "file");
    size_t slash = record.file.find_last_of('/');
    if (slash != std::string::npos) record.file = record.file.substr(slash + 1);
    record.epoch = IntOr(item, "epoch", -1);
    record.step = IntOr(item, "step", -1);
    record.monitor = StringOr(item, "monitor");
    auto value = item.FindMember("value");
    if (value != item.MemberEnd() && NumberValue(value->value, &record.value)) {
      record.has_value = true;
    }
    auto best = item.FindMember("best");
    record.best = best != item.MemberEnd() && best->value.IsBool() &&
                  best->value.GetBool();
    auto last = item.FindMember("last");
    record.last = last != item.MemberEnd() && last->value.IsBool() &&
                  last->value.GetBool();
    record.size = IntOr(item, "size", -1);
    record.sha256 = StringOr(item, "sha256");
    if (!IsSha256Hex(record.sha256)) record.sha256.clear();
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace cvt
