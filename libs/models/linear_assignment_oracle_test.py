"""SolveLinearAssignment against scipy.optimize.linear_sum_assignment.

Random rectangular matrices (0-12 x 0-12, seeded): real costs, small integer
costs with many ties, costs spanning many magnitudes, +inf forbidden pairs at
several densities (some matrices infeasible), and invalid ones (NaN, -inf).
For each: the same outcome as scipy (pairs / "infeasible" / "invalid"); a
valid assignment of min(rows, cols) pairs using no +inf; and the same total
cost as scipy's (exactly for integers, to 1e-12 relative otherwise). On ties
the chosen pairs may differ; the total may not.

Usage: linear_assignment_oracle_test.py --binary PATH [--cases N]
"""

import argparse
import json
import math
import random
import subprocess
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment


def encode(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def make_case(rng, i):
    rows, cols = rng.randint(0, 12), rng.randint(0, 12)
    kind = i % 5
    cost = []
    for _ in range(rows * cols):
        if kind == 0:
            c = rng.uniform(-10, 10)
        elif kind == 1:
            c = float(rng.randint(0, 3))
        elif kind == 2:
            c = rng.uniform(0, 1) * 10 ** rng.randint(-8, 8)
        else:
            c = float(rng.randint(0, 9))
        cost.append(c)
    if kind in (3, 4) and cost:
        density = [0.1, 0.3, 0.6][i % 3]
        cost = [math.inf if rng.random() < density else c for c in cost]
    if i % 41 == 0 and cost:
        cost[rng.randrange(len(cost))] = rng.choice([math.nan, -math.inf])
    return rows, cols, cost


def scipy_answer(rows, cols, cost):
    matrix = np.array(cost, dtype=float).reshape(rows, cols)
    try:
        r, c = linear_sum_assignment(matrix)
    except ValueError as e:
        return ("infeasible" if "infeasible" in str(e) else "invalid"), None
    return "pairs", float(matrix[r, c].sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--cases", type=int, default=3000)
    args = ap.parse_args()
    rng = random.Random(20261201)
    cases = [make_case(rng, i) for i in range(args.cases)]
    payload = "".join(json.dumps({"rows": r, "cols": c, "cost": [encode(x) for x in cost]}) + "\n"
                      for r, c, cost in cases)
    out = subprocess.run([args.binary], input=payload, capture_output=True, text=True, check=True)
    answers = [json.loads(l) for l in out.stdout.splitlines()]
    assert len(answers) == len(cases), "binary answered %d of %d" % (len(answers), len(cases))
    failures = 0
    counts = {"pairs": 0, "infeasible": 0, "invalid": 0}
    for (rows, cols, cost), got in zip(cases, answers):
        want, total = scipy_answer(rows, cols, cost)
        counts[want] += 1
        ours = got.get("error", "pairs")
        problem = None
        if ours != want:
            problem = "outcome %s, scipy %s" % (ours, want)
        elif want == "pairs":
            pairs = got["pairs"]
            rs = [p[0] for p in pairs]
            cs = [p[1] for p in pairs]
            ours_total = sum(cost[r * cols + c] for r, c in pairs)
            if len(pairs) != min(rows, cols) or len(set(rs)) != len(rs) or \
                    len(set(cs)) != len(cs) or rs != sorted(rs):
                problem = "not a valid assignment: %s" % pairs
            elif math.isinf(ours_total):
                problem = "uses a forbidden pair"
            elif abs(ours_total - total) > 1e-12 * max(1.0, abs(total)):
                problem = "total %r, scipy %r" % (ours_total, total)
        if problem:
            failures += 1
            if failures <= 10:
                print("FAIL %dx%d: %s (cost %s)" % (rows, cols, problem, cost))
    print("%d cases (%s): %d failure(s)" % (len(cases), counts, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
