// train: fit, validate, test and predict with LibTorch detectors.

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "glog/logging.h"
#include "libs/base/status.h"
#include "libs/base/tool_main.h"
#include "libs/dist/dist_env.h"
#include "libs/dist/launcher.h"
#include "tools/train/train.h"

ABSL_FLAG(std::string, config, "", "Pipeline config (.textproto or .json).");
// --set and --set_file are repeatable: main() takes every occurrence out of
// argv before the flags are parsed; these definitions give --help its text.
ABSL_FLAG(std::string, set, "",
          "Override as a dotted path, repeatable: --set trainer.max_epochs=20 "
          "--set augmentation.train_min_sizes=[480,512].");
ABSL_FLAG(std::string, set_file, "",
          "Text-proto file merged over --config, repeatable, in order.");
ABSL_FLAG(std::string, data, "", "Dataset folder written by coco_prep.");
ABSL_FLAG(std::string, run_dir, "",
          "Run directory: run.json, metrics.jsonl, checkpoints/.");
ABSL_FLAG(std::string, resume, "", "Resume fit from last, best or a PATH.");
ABSL_FLAG(std::string, checkpoint, "", "Checkpoint for validate/test/predict.");
ABSL_FLAG(std::string, images, "", "Images folder for predict.");
ABSL_FLAG(std::string, out, "", "COCO results file written by predict.");
ABSL_FLAG(int, threads, 0, "Intra-op threads; 0 = all cores.");
ABSL_FLAG(
    bool, exist_ok, false,
    "fit: train a fresh run even if --run_dir already holds checkpoints.");
ABSL_FLAG(int, nproc_per_node, 1,
          "fit: start N data-parallel workers on this machine (like torchrun "
          "--standalone --nproc_per_node N); each gets --threads threads.");
ABSL_FLAG(int, master_port, 0,
          "fit --nproc_per_node: rendezvous port on 127.0.0.1; 0 = a free "
          "one.");
ABSL_FLAG(int64_t, dist_timeout_s, 1800,
          "fit, data parallel: seconds a rank waits for the others before it "
          "fails.");
ABSL_FLAG(int64_t, stop_after_steps, 0,
          "fit (testing): behave as if SIGTERM arrived after N optimizer "
          "steps.");

int main(int argc, char** argv) {
  const std::vector<std::string> original_args(argv, argv + argc);
  absl::SetProgramUsageMessage(
      "Trains and runs object detectors.\n"
      "Usage: train fit --config C [--set k=v ...] --data DIR --run_dir DIR "
      "[--resume last|best|PATH] [--threads N] [--nproc_per_node N]\n"
      "       train validate|test --checkpoint CKPT --data DIR\n"
      "       train predict --checkpoint CKPT --images DIR|--data DIR --out "
      "results.json");
  const std::vector<std::string> sets =
      cvt::TakeRepeatedFlag(argc, argv, "set");
  const std::vector<std::string> set_files =
      cvt::TakeRepeatedFlag(argc, argv, "set_file");
  std::vector<char*> args = cvt::ParseFlagsOrExit2(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (args.size() > 2) {
    return cvt::ExitCode(
        "train", absl::InvalidArgumentError(
                     std::string("unexpected argument '") + args[2] + "'"));
  }
  const int nproc = absl::GetFlag(FLAGS_nproc_per_node);
  if (nproc < 0) {
    return cvt::ExitCode("train", absl::InvalidArgumentError(
                                      "--nproc_per_node must be at least 1"));
  }
  // 0 and 1: this process trains (torchrun's variables, if set, still
  // apply).
  if (nproc > 1) {
    // The launcher: the same command without --nproc_per_node, N times,
    // with the torchrun variables set (torchrun itself can start the
    // workers instead).
    cvt::LaunchOptions launch;
    launch.nproc = nproc;
    launch.master_port = absl::GetFlag(FLAGS_master_port);
    launch.argv = cvt::DropFlag(
        cvt::DropFlag(std::vector<std::string>(original_args.begin() + 1,
                                               original_args.end()),
                      "nproc_per_node"),
        "master_port");
    launch.argv.insert(launch.argv.begin(), "/proc/self/exe");
    if (args.size() < 2 || std::string(args[1]) != "fit") {
      return cvt::ExitCode("train",
                           absl::InvalidArgumentError(
                               "--nproc_per_node applies to train fit only"));
    }
    absl::StatusOr<int> code = cvt::LaunchLocalWorkers(launch);
    if (!code.ok()) return cvt::ExitCode("train", code.status());
    return *code;
  }
  absl::StatusOr<cvt::DistEnv> dist = cvt::DistEnvFromEnvironment();
  if (!dist.ok()) return cvt::ExitCode("train", dist.status());
  cvt::TrainOptions options;
  options.dist = *dist;
  options.dist_timeout_s = absl::GetFlag(FLAGS_dist_timeout_s);
  options.subcommand = args.size() > 1 ? args[1] : "";
  options.config_path = cvt::ResolveUserPath(absl::GetFlag(FLAGS_config));
  for (const std::string& file : set_files) {
    options.override_files.push_back(cvt::ResolveUserPath(file));
  }
  options.overrides = sets;
  options.data_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_data));
  options.run_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_run_dir));
  options.resume = absl::GetFlag(FLAGS_resume);
  options.checkpoint = cvt::ResolveUserPath(absl::GetFlag(FLAGS_checkpoint));
  options.images_dir = cvt::ResolveUserPath(absl::GetFlag(FLAGS_images));
  options.out_path = cvt::ResolveUserPath(absl::GetFlag(FLAGS_out));
  options.threads = absl::GetFlag(FLAGS_threads);
  options.exist_ok = absl::GetFlag(FLAGS_exist_ok);
  options.stop_after_steps = absl::GetFlag(FLAGS_stop_after_steps);
  const absl::Status status = cvt::RunTrain(options);
  // A non-finite training loss has its own exit code, so a pipeline can tell
  // divergence from other failures.
  if (absl::IsDataLoss(status)) {
    cvt::ExitCode("train", status);
    return 3;
  }
  return cvt::ExitCode("train", status);
}
