#include "libs/tracking/run_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "libs/base/status_macros.h"

namespace cvt {
namespace {

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "writing", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RunRecordToJson(const RunRecord& run) {
  JsonWriter w({.non_finite = NonFinitePolicy::kNull, .indent = 2});
  w.StartObject();
  w.Key("version");
  w.Int(1);
  w.Key("status");
  w.String(run.status);
  w.Key("start_time_ms");
  w.Int(run.start_time_ms);
  w.Key("end_time_ms");
  w.Int(run.end_time_ms);
  w.Key("run_name");
  w.String(run.run_name);
  w.Key("task");
  w.String(run.task);
  w.Key("model_name");
  w.String(run.model_name);
  w.Key("hyperparameters");
  w.StartObject();
  for (const auto& [k, v] : run.hyperparameters) {
    w.Key(k);
    w.String(v);
  }
  w.EndObject();
  w.Key("tags");
  w.StartObject();
  for (const auto& [k, v] : run.tags) {
    w.Key(k);
    w.String(v);
  }
  w.EndObject();
  w.Key("pid");
  w.Int(run.pid);
  w.Key("hostname");
  w.String(run.hostname);
  w.Key("heartbeat_ms");
  w.Int(run.heartbeat_ms);
  w.EndObject();
  absl::StatusOr<std::string> text = w.Finish();
  return text.ok() ? *text + "\n" : "{}\n";
}

absl::StatusOr<std::unique_ptr<RunWriter>> RunWriter::Open(
    const std::string& run_dir, RunRecord run) {
  CVT_RETURN_IF_ERROR(MakeDirs(absl::StrCat(run_dir, "/checkpoints")));
  const std::string metrics = absl::StrCat(run_dir, "/metrics.jsonl");
  const int fd =
      open(metrics.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
  if (fd < 0) return ErrnoStatus(errno, "opening", metrics);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    close(fd);
    return ErrnoStatus(e, "reading the size of", metrics);
  }
  run.status = "RUNNING";
  if (run.start_time_ms == 0) run.start_time_ms = NowMs();
  run.end_time_ms = 0;
  run.pid = getpid();
  run.hostname = HostName();
  run.heartbeat_ms = NowMs();
  std::unique_ptr<RunWriter> writer(
      new RunWriter(run_dir, std::move(run), fd, st.st_size));
  CVT_RETURN_IF_ERROR(writer->WriteRunJson());
  return writer;
}

RunWriter::~RunWriter() {
  if (fd_ >= 0) close(fd_);
}

absl::Status RunWriter::WriteRunJson() {
  return WriteFileAtomically(absl::StrCat(run_dir_, "/run.json"),
                             RunRecordToJson(run_));
}

absl::Status RunWriter::LogMetric(const std::string& name, double value,
                                  int64_t step, int64_t epoch) {
  JsonWriter w({.non_finite = NonFinitePolicy::kPythonLiterals});
  w.StartObject();
  w.Key("name");
  w.String(name);
  w.Key("value");
  w.Double(value);
  w.Key("step");
  w.Int(step);
  w.Key("epoch");
  w.Int(epoch);
  w.Key("timestamp_ms");
  w.Int(NowMs());
  w.EndObject();
  CVT_ASSIGN_OR_RETURN(std::string line, w.Finish());
  line += '\n';
  CVT_RETURN_IF_ERROR(
      WriteAll(fd_, line, absl::StrCat(run_dir_, "/metrics.jsonl")));
  metrics_offset_ += static_cast<int64_t>(line.size());
  return absl::OkStatus();
}

absl::Status RunWriter::TruncateMetrics(int64_t offset) {
  const std::string path = absl::StrCat(run_dir_, "/metrics.jsonl");
  if (offset > metrics_offset_) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is shorter (", metrics_offset_,
                     " bytes) than the checkpoint's offset ", offset));
  }
  if (ftruncate(fd_, offset) != 0)
    return ErrnoStatus(errno, "truncating", path);
  if (fsync(fd_) != 0) return ErrnoStatus(errno, "syncing", path);
  metrics_offset_ = offset;
  return absl::OkStatus();
}

absl::Status RunWriter::WriteCheckpointIndex(
    const std::vector<CheckpointRecord>& records) {
  JsonWriter w({.non_finite = NonFinitePolicy::kNull, .indent = 2});
  w.StartObject();
  w.Key("version");
  w.Int(1);
  w.Key("checkpoints");
  w.StartArray();
  for (const CheckpointRecord& r : records) {
    w.StartObject();
    w.Key("file");
    w.String(r.file);
    w.Key("epoch");
    w.Int(r.epoch);
    w.Key("step");
    w.Int(r.step);
    w.Key("monitor");
    w.String(r.monitor);
    w.Key("value");
    if (r.has_value && std::isfinite(r.value)) {
      w.Double(r.value);
    } else {
      w.Null();
    }
    w.Key("best");
    w.Bool(r.best);
    w.Key("last");
    w.Bool(r.last);
    w.Key("size");
    w.Int(r.size);
    w.Key("sha256");
    w.String(r.sha256);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  CVT_ASSIGN_OR_RETURN(std::string text, w.Finish());
  return WriteFileAtomically(
      absl::StrCat(run_dir_, "/checkpoints/checkpoints.json"), text + "\n");
}

absl::Status RunWriter::Heartbeat() {
  run_.heartbeat_ms = NowMs();
  return WriteRunJson();
}

absl::Status RunWriter::Finish(const std::string& status) {
  run_.status = status;
  run_.end_time_ms = NowMs();
  run_.heartbeat_ms = run_.end_time_ms;
  return WriteRunJson();
}

}  // namespace cvt
