"""`torchrun` (torch.distributed.run) from Debian's python3-torch 1.13 under
Python 3.11, for tests.

torch 1.13's Std.from_str compares a Flag enum with an int, which Python
3.11 no longer allows, so the stock `python3 -m torch.distributed.run`
fails before it starts any worker ("'NoneType' object has no attribute
'get'"). This shim fixes only that parser and then runs torchrun's own
main(), unchanged: the elastic agent, the c10d rendezvous and the worker
environment are torchrun's.

    /usr/bin/python3 torchrun.py --standalone --nproc_per_node 2 SCRIPT ARGS...
"""
import re
import sys

from torch.distributed.elastic.multiprocessing import api


def _from_str(cls, vm):
    if re.fullmatch(r"\d", vm):
        return cls(int(vm))
    return {int(i): cls(int(v)) for i, v in (m.split(":") for m in vm.split(","))}


api.Std.from_str = classmethod(_from_str)

from torch.distributed.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
