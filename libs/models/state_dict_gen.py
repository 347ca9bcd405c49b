"""Writes the torch.save files that state_dict_test reads back with
cvt::ReadTorchSaveDict. The values are simple formulas that
state_dict_test_main.cc states again.

Usage (Debian's python3-torch):
  /usr/bin/python3 state_dict_gen.py --out DIR
"""

import argparse
import os
import random

import torch


def tensors():
    """The entries shared by ordered.pth, protocol4.pth and (some) plain.pth."""
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return {
        "f32": base,
        # Views saved as they are: they share base's storage in the file.
        "f32_t": base.t(),
        "f32_slice": base[1:, ::2],
        "expanded": torch.arange(3, dtype=torch.float32).expand(2, 3),
        "f64": torch.linspace(-1, 1, 5, dtype=torch.float64),
        "f16": torch.tensor([0.5, -2.0, 65504.0], dtype=torch.float16),
        "bf16": torch.tensor([1.5, -3.0], dtype=torch.bfloat16),
        "i64": torch.tensor([-(2 ** 40), -1, 0, 7], dtype=torch.int64),
        "i32": torch.tensor([-5, 2 ** 30], dtype=torch.int32),
        "i16": torch.tensor([-300, 300], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.25),
        "empty": torch.empty(0, 4),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)

    # A real state_dict (an OrderedDict with _metadata) with extra entries.
    bn = torch.nn.BatchNorm1d(3)
    bn.num_batches_tracked.fill_(5)  # An int64 0-dim buffer.
    ordered = bn.state_dict()
    assert type(ordered).__name__ == "OrderedDict" and hasattr(ordered, "_metadata")
    ordered.update(tensors())
    ordered["not_a_tensor"] = 7
    ordered["a_string"] = "skipped"
    torch.save(ordered, out("ordered.pth"))
    torch.save(ordered, out("protocol4.pth"), pickle_protocol=4)

    plain = {k: v for k, v in tensors().items() if k in ("f32", "f32_slice", "i64")}
    plain["param"] = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    torch.save(plain, out("plain.pth"))

    torch.save([torch.zeros(1)], out("list.pth"))
    torch.save({"x": torch.zeros(1)}, out("legacy.pth"),
               _use_new_zipfile_serialization=False)
    with open(out("ordered.pth"), "rb") as f:
        data = f.read()
    with open(out("truncated.pth"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(out("garbage.pth"), "wb") as f:
        f.write(bytes(random.Random(0).getrandbits(8) for _ in range(1000)))
    # A well-formed archive whose pickle is not.
    writer = torch._C.PyTorchFileWriter(out("bad_pickle.pth"))
    writer.write_record("data.pkl", b"\x80\x02}q\x00(X\x01", 9)
    del writer


if __name__ == "__main__":
    main()
