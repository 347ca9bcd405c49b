"""Counts test cases in Bazel's test.xml files and prints 'N passed, N failed'.

Usage: python3 scripts/test_summary.py bazel-testlogs [--since STAMP_FILE]

With --since, only test.xml files written after STAMP_FILE count: the logs of
test targets that no longer exist stay in bazel-testlogs and would otherwise
be counted again.
"""

import pathlib
import sys
import xml.etree.ElementTree as ElementTree


def main(root: str, since: float) -> int:
    passed = failed = skipped = 0
    failed_names = []
    for xml_path in sorted(pathlib.Path(root).rglob("test.xml")):
        if xml_path.stat().st_mtime < since:
            continue
        try:
            tree = ElementTree.parse(xml_path)
        except ElementTree.ParseError:
            failed += 1
            failed_names.append(str(xml_path.parent))
            continue
        for case in tree.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failed_names.append(f"{xml_path.parent.relative_to(root)}: {case.get('name')}")
            elif case.find("skipped") is not None or case.get("result") == "suppressed":
                skipped += 1
            else:
                passed += 1
    for name in failed_names:
        print(f"FAILED {name}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    since = 0.0
    if "--since" in args:
        i = args.index("--since")
        since = pathlib.Path(args[i + 1]).stat().st_mtime
        del args[i:i + 2]
    sys.exit(main(args[0] if args else "bazel-testlogs", since))
