// Benchmarks of libs/base/json against the obvious alternatives, on a real
// COCO file: parsing with full-precision doubles (what cvtools uses, so every
// number equals Python's) against RapidJSON's default fast-path parser, and
// shortest round-trip double printing against printf("%.17g").
//
//   bazel run -c opt //bench:json_bench -- --json=FILE
//   (e.g. ../shared/data/eval/cocoapi_val2014_100/instances_val2014_100.json)
//
// The ratio of interest is the cost of exactness: full_precision / default.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "libs/base/file_io.h"
#include "libs/base/json.h"
#include "rapidjson/document.h"

namespace {

std::string* g_json_text = nullptr;

void BM_ParseFullPrecision(benchmark::State& state) {
  for (auto _ : state) {
    auto doc = cvt::ParseJson(*g_json_text, "bench");
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(state.iterations() * g_json_text->size());
}
BENCHMARK(BM_ParseFullPrecision);

void BM_ParseRapidJsonDefault(benchmark::State& state) {
  for (auto _ : state) {
    rapidjson::Document doc;
    doc.Parse(g_json_text->data(), g_json_text->size());
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(state.iterations() * g_json_text->size());
}
BENCHMARK(BM_ParseRapidJsonDefault);

std::vector<double> RandomDoubles() {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> values(4096);
  for (double& v : values) v = unit(rng);
  return values;
}

void BM_FormatDoubleShortest(benchmark::State& state) {
  const std::vector<double> values = RandomDoubles();
  size_t i = 0;
  for (auto _ : state) {
    std::string text = cvt::FormatDouble(values[i++ & 4095]);
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(BM_FormatDoubleShortest);

void BM_FormatDoublePrintf17g(benchmark::State& state) {
  const std::vector<double> values = RandomDoubles();
  size_t i = 0;
  char buffer[32];
  for (auto _ : state) {
    std::snprintf(buffer, sizeof(buffer), "%.17g", values[i++ & 4095]);
    benchmark::DoNotOptimize(buffer);
  }
}
BENCHMARK(BM_FormatDoublePrintf17g);

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--json=", 7) == 0) {
      path = argv[i] + 7;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "json_bench: error: --json=FILE is required\n");
    return 2;
  }
  auto text = cvt::ReadFileToString(path);
  if (!text.ok()) {
    std::fprintf(stderr, "json_bench: error: %s\n",
                 std::string(text.status().message()).c_str());
    return 2;
  }
  g_json_text = &*text;
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
