"""Counts test cases in Bazel's test.xml files and prints 'N passed, N failed'.

Usage: python3 scripts/test_summary.py bazel-testlogs
"""

import pathlib
import sys
import xml.etree.ElementTree as ElementTree


def main(root: str) -> int:
    passed = failed = skipped = 0
    failed_names = []
    for xml_path in sorted(pathlib.Path(root).rglob("test.xml")):
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
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "bazel-testlogs"))
