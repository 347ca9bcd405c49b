"""Debian 12's libraries under upstream repository names and labels.

Swapping one for an http_archive later touches only third_party/.
"""

load("//third_party/system:local_data.bzl", "local_data_repository")
load("//third_party/system:pkg_config.bzl", "pkg_config_repository")

_ABSL = {
    "absl/base:core_headers": "absl_core_headers",
    "absl/base:base": "absl_base",
    "absl/container:flat_hash_map": "absl_flat_hash_map",
    "absl/container:flat_hash_set": "absl_flat_hash_set",
    "absl/container:btree": "absl_btree",
    "absl/flags:flag": "absl_flags",
    "absl/flags:parse": "absl_flags_parse",
    "absl/flags:usage": "absl_flags_usage",
    "absl/flags:reflection": "absl_flags_reflection",
    "absl/random:random": "absl_random_random",
    "absl/status:status": "absl_status",
    "absl/status:statusor": "absl_statusor",
    "absl/strings:strings": "absl_strings",
    "absl/strings:str_format": "absl_str_format",
    "absl/strings:cord": "absl_cord",
    "absl/synchronization:synchronization": "absl_synchronization",
    "absl/time:time": "absl_time",
    "absl/types:optional": "absl_optional",
    "absl/types:span": "absl_span",
}

def system_repositories():
    """Declares every system library repository. Called from WORKSPACE."""
    pkg_config_repository(name = "com_google_absl", targets = _ABSL, static_prefixes = ["absl_"])
    pkg_config_repository(
        name = "com_google_googletest",
        targets = {":gtest": "gmock", ":gtest_main": "gmock_main"},
    )
    pkg_config_repository(name = "com_github_google_glog", targets = {":glog": "libglog"})
    pkg_config_repository(name = "curl", targets = {":curl": "libcurl"})
    pkg_config_repository(name = "openssl", targets = {":crypto": "libcrypto"})
    pkg_config_repository(name = "com_github_google_benchmark", targets = {":benchmark": "benchmark"})
    local_data_repository(
        name = "shared_data",
        path = "../shared/data",
        sets = ["bccd", "coco_tiny", "eval"],
    )
    native.new_local_repository(
        name = "rapidjson",
        path = "/usr/include/rapidjson",
        build_file = "//third_party/system:rapidjson.BUILD",
    )
    native.new_local_repository(
        name = "com_google_protobuf",
        path = "/usr/include/google/protobuf",
        build_file = "//third_party/system:protobuf.BUILD",
    )
    native.new_local_repository(
        name = "opencv",
        path = "/usr/include/opencv4",
        build_file = "//third_party/system:opencv.BUILD",
    )
    native.new_local_repository(
        name = "libtorch",
        path = "/usr/include/torch/csrc/api/include",
        build_file = "//third_party/system:libtorch.BUILD",
    )
