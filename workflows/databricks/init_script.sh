#!/usr/bin/env bash
# Cluster init script: installs the cvtools binaries on every node.
# Packaging: the release is a tarball
# made on a Debian 12 machine (Databricks Runtime 15.x is Ubuntu 22.04 with a
# compatible glibc) with
#   bazel build -c opt //tools/... //libs/data:write_synthetic_coco
#   tar czf cvtools.tar.gz -C bazel-bin tools libs/data/write_synthetic_coco \
#       -C "$PWD" workflows configs
# and uploaded to /Volumes/main/cvtools/releases/. The shared libraries the
# binaries link (LibTorch, OpenCV, protobuf, libcurl) come from apt below.
set -euo pipefail
release="${CVTOOLS_RELEASE:-/Volumes/main/cvtools/releases/cvtools.tar.gz}"
home="${CVTOOLS_HOME:-/databricks/cvtools}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libtorch-dev libopencv-dev \
  libprotobuf-dev libcurl4 libgoogle-glog-dev >/dev/null
mkdir -p "$home/bin"
tar xzf "$release" -C "$home/bin"
# pipeline.sh and the configs are looked up next to the binaries.
mv "$home/bin/workflows" "$home/bin/configs" "$home/" 2>/dev/null || true
ln -sfn "$home/configs" "$home/bin/configs"
echo "cvtools installed in $home"
