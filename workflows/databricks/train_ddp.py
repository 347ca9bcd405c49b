"""Data-parallel `train fit` under torchrun or Databricks' TorchDistributor.

Both launchers start a Python script once per process with the torchrun
variables set (WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
MASTER_PORT). This wrapper only replaces itself with the cvtools binary,
environment untouched, so the processes join through c10d themselves:

    torchrun --nnodes 2 --nproc_per_node 4 --rdzv_endpoint HOST:29400 \\
        train_ddp.py --config C --data /Volumes/.../prepared --run_dir /Volumes/.../run

    # In a Databricks notebook or spark_python_task (one process per task slot):
    from pyspark.ml.torch.distributor import TorchDistributor
    TorchDistributor(num_processes=8, local_mode=False, use_gpu=False).run(
        "/databricks/cvtools/workflows/databricks/train_ddp.py",
        "--config", "/databricks/cvtools/configs/yolo_small_bccd.textproto",
        "--data", "/Volumes/main/cv/data/prepared",
        "--run_dir", "/Volumes/main/cv/runs/bccd-ddp")

Arguments are `train fit`'s. The run directory must be on storage every
node sees (a Unity Catalog Volume) for resume; only rank 0 writes it. The
binary comes from $CVTOOLS_HOME/bin (default /databricks/cvtools/bin, where
init_script.sh installs it); $CVTOOLS_TRAIN names it directly.
"""
import os
import sys


def command(argv, env):
    binary = env.get("CVTOOLS_TRAIN") or os.path.join(
        env.get("CVTOOLS_HOME", "/databricks/cvtools"), "bin", "tools", "train", "train")
    if argv and argv[0] == "fit":
        argv = argv[1:]
    if any(a == "--nproc_per_node" or a.startswith("--nproc_per_node=") for a in argv):
        raise SystemExit("train_ddp.py: the launcher starts the processes; drop --nproc_per_node")
    return [binary, "fit"] + list(argv)


def main():
    args = command(sys.argv[1:], os.environ)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(args[0], args)


if __name__ == "__main__":
    main()
