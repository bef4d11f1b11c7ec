#!/usr/bin/python3
"""regrtest_compare.py PLAIN.xml UZSWAP.xml: compares two JUnit reports of CPython's
regression tests (python3 -m test --junit-xml), test case by test case.

Each test case's outcome is one of passed, skipped, failed, error. The two reports must list
the same test cases with the same outcomes; a test case that fails or is skipped in both is
fine (no network, running as root...). Prints a count of each outcome and every difference;
exit status 0 if the reports agree, 1 otherwise.
"""
import collections
import sys
import xml.etree.ElementTree as ET

# Test cases whose outcome differs for a reason inherent to running under any preload
# library that keeps descriptors open, named here so that nothing else can hide behind
# them. Both assert the exact set of descriptors open in a freshly exec'd process (that
# runs under uzswap too: its userfaultfd, pagemap, eventfd and libunwind's pipe are open
# there) up to RLIMIT_NOFILE; uzswap keeps them at high numbers, so checks of the first
# 256 (what shells and most tests look at) do not see them.
INHERENT = {
    "test.test_subprocess.POSIXProcessTestCase.test_pass_fds_redirected":
        "lists every descriptor up to SC_OPEN_MAX of a process under uzswap",
    "test.test_subprocess.POSIXProcessTestCase.test_close_fds_when_max_fd_is_lowered":
        "lists every descriptor of a process under uzswap whose RLIMIT_NOFILE is 29",
}


def outcomes(path):
    """{test case: (outcome, the last lines of its failure or error text)}"""
    result = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, text = "passed", ""
        for tag, name in (("error", "error"), ("failure", "failed"), ("skipped", "skipped")):
            found = case.find(tag)
            if found is not None:
                outcome, text = name, (found.text or found.get("message") or "")
                break
        result[case.get("name")] = (outcome, "\n".join(text.strip().splitlines()[-3:]))
    return result


def main():
    plain, uz = outcomes(sys.argv[1]), outcomes(sys.argv[2])
    for label, res in (("plain", plain), ("uzswap", uz)):
        counts = collections.Counter(outcome for outcome, _ in res.values())
        print(f"  {label}: {len(res)} test cases: " + ", ".join(f"{counts[o]} {o}" for o in ("passed", "skipped", "failed", "error")))
    differences = 0
    for name in sorted(plain.keys() | uz.keys()):
        (a, _), (b, text) = plain.get(name, ("absent", "")), uz.get(name, ("absent", ""))
        if a != b and name in INHERENT and a == "passed" and b == "failed":
            print(f"  differs (inherent, not counted): {name}: {INHERENT[name]}")
        elif a != b:
            print(f"  differs: {name}: plain {a}, under uzswap {b}")
            for line in text.splitlines():
                print(f"    {line}")
            differences += 1
    if not plain:
        print("  the plain run reported no test case")
        return 1
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
