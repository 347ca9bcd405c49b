#!/usr/bin/env bash
# torchvision ResNet-18 and ResNet-50 state_dicts written by Python torch
# (ResNet-18 as the OrderedDict that torch.save(model.state_dict()) writes,
# ResNet-50 as a plain dict) load into cvt::ResNet and give the same C2..C5
# features on the same input (max |diff| <= 1e-4), with batch norm and with
# frozen batch norm. Needs Debian's python3-torch and python3-torchvision
# (scripts/setup.sh installs them).
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE:-cvtools}" || exit 1
if ! /usr/bin/python3 -c "import torch, torchvision" 2>/dev/null; then
  echo "FAIL: /usr/bin/python3 cannot import torch and torchvision; run scripts/setup.sh"
  exit 1
fi
failures=0
for depth in 18 50; do
  dir="$TEST_TMPDIR/resnet$depth"
  /usr/bin/python3 libs/models/resnet_torchvision_gen.py --depth "$depth" --out "$dir" || exit 1
  for mode in bn frozen; do
    echo "== resnet$depth ($mode)"
    if ! libs/models/resnet_compare_main "$dir" "$depth" "$mode"; then
      echo "FAIL: resnet$depth ($mode)"
      failures=$((failures + 1))
    fi
  done
done
# A state_dict of another depth is refused, naming the key.
out=$(libs/models/resnet_compare_main "$TEST_TMPDIR/resnet18" 50 2>&1)
if echo "$out" | grep -q "state_dict.pth: missing key 'layer1.0.\|state_dict.pth: 'layer1.0.conv1.weight' has shape"; then
  echo "ok: a ResNet-18 state_dict is refused for ResNet-50: $out"
else
  echo "FAIL: wrong-depth load said: $out"
  failures=$((failures + 1))
fi
# The generator wrote ResNet-18 as torch.save(model.state_dict()), an
# OrderedDict, and ResNet-50 as a plain dict: both forms loaded above.
for pair in 18:OrderedDict 50:dict; do
  depth=${pair%%:*}
  want=${pair#*:}
  got=$(/usr/bin/python3 -c "import sys, torch; print(type(torch.load(sys.argv[1])).__name__)" \
    "$TEST_TMPDIR/resnet$depth/state_dict.pth")
  if [ "$got" = "$want" ]; then
    echo "ok: resnet$depth state_dict.pth is a $got"
  else
    echo "FAIL: resnet$depth state_dict.pth is a $got, not a $want"
    failures=$((failures + 1))
  fi
done
[ $failures -eq 0 ]
