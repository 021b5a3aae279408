#!/usr/bin/env python3
"""Records the system calls helper processes make after their lock-down, over the whole fixture corpus.

Usage: python3 scripts/record-helper-syscalls.py PATH/TO/mediaworker [--out scripts/helper-syscalls.txt]

Runs `mediaworker process FILE` for every fixture in Fixtures/fixtures.json (hostile files included) under
`strace -f`, finds each helper process (the `helper` command line, through bubblewrap), and keeps every call
its threads make after the seccomp filter is loaded. Prints, and writes to --out, each call (fcntl, prctl and
ioctl with their command) with how often it was made and how often it failed with EPERM, which is the filter's
answer to a call it does not allow. Every call seen must be in the allow-list of
Sources/CHelperSandbox/seccomp_filter.c, or be one the decoders do without; the script exits 1 when a call was
refused that the decoders made.

Needs strace (Debian `strace`) and root or ptrace rights over the helpers.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
CALL = re.compile(r"^([a-z0-9_]+)\((.*)")
RESUMED = re.compile(r"^<\.\.\. ([a-z0-9_]+) resumed>(.*)")
RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?|0x[0-9a-f]+)(?:\s*/\*[^*]*\*/)?(?:\s+(E[A-Z]+))?")


def command_of(name, args):
    """fcntl, prctl and ioctl by their command (the filter allows them by command)."""
    if name in ("fcntl", "ioctl"):
        parts = args.split(", ")
        return f"{name}({parts[1].split(')')[0]})" if len(parts) > 1 else name
    if name == "prctl":
        return f"prctl({args.split(',')[0].split(')')[0]})"
    return name


def analyse(trace_path, seen, refused):
    lines = []
    with open(trace_path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if m:
                lines.append((int(m.group(1)), float(m.group(2)), m.group(3)))
    # Join each "<unfinished ...>" call with its "<... resumed>" rest: one (tid, time, whole call) per call.
    calls, pending = [], {}
    for tid, ts, text in lines:
        m = RESUMED.match(text)
        if m:
            start_ts, start_text = pending.pop(tid, (ts, m.group(1) + "("))
            calls.append((tid, start_ts, start_text.replace("<unfinished ...>", "") + m.group(2)))
        elif text.endswith("<unfinished ...>"):
            pending[tid] = (ts, text)
        elif CALL.match(text):
            calls.append((tid, ts, text))
    # Each helper process (its exec) and its threads (clone/clone3 from one of them; new processes are refused
    # after the lock-down), each with the time its own filter was loaded.
    group = {}
    for tid, _, text in calls:
        # The helper's own exec (argv[1] is `helper`), not bubblewrap's or setpriv's whose later arguments name it.
        if re.match(r'execve\("[^"]+", \["[^"]+", "helper"', text) and re.search(r"=\s+0\s*$", text):
            group[tid] = tid
    if not group:
        return False
    for tid, _, text in calls:
        if tid in group and text.startswith(("clone(", "clone3(")):
            # Inside the helper's PID namespace clone returns its own numbering; --pidns-translation adds ours.
            m = re.search(r"=\s+\d+\s*/\*\s*(\d+)[^*]*\*/\s*$", text) or re.search(r"=\s+(\d+)\s*$", text)
            if m:
                group[int(m.group(1))] = group[tid]
    locked = {}
    for tid, ts, text in calls:
        if tid in group and text.startswith("seccomp(SECCOMP_SET_MODE_FILTER") and re.search(r"=\s+0\s*$", text):
            locked.setdefault(group[tid], ts)
    if not locked:
        return False
    for tid, ts, text in calls:
        if tid not in group or group[tid] not in locked or ts <= locked[group[tid]]:
            continue
        m = CALL.match(text)
        name = command_of(m.group(1), m.group(2))
        seen[name] += 1
        result = RESULT.search(text)
        if result and result.group(2) in ("EPERM", "ENOSYS"):
            refused[name] += 1
    return True


# Refused on purpose, and the callers cope: liborc sets a umask to make a temporary file to JIT into, is refused,
# and falls back to its C code.
EXPECTED_REFUSALS = {"umask"}


def allowed_names():
    with open(os.path.join(ROOT, "Sources/CHelperSandbox/seccomp_filter.c")) as f:
        source = f.read()
    names = set(re.findall(r'"([a-z0-9_]+)"', source))
    return names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--out", default=os.path.join(ROOT, "scripts/helper-syscalls.txt"))
    args = parser.parse_args()
    with open(os.path.join(ROOT, "Fixtures/fixtures.json")) as f:
        fixtures = json.load(f)["fixtures"]
    seen, refused = collections.Counter(), collections.Counter()
    traced = 0
    with tempfile.TemporaryDirectory() as tmp:
        for fixture in fixtures:
            trace = os.path.join(tmp, "trace")
            out = os.path.join(tmp, "out")
            cmd = ["strace", "-f", "--pidns-translation", "-ttt", "-qq", "-s", "64", "-o", trace, args.binary, "process",
                   os.path.join(ROOT, "Fixtures", fixture["file"]), "--from", fixture.get("from", "visitor"),
                   "--out", out]
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
            if analyse(trace, seen, refused):
                traced += 1
            else:
                print(f"no locked-down helper seen for {fixture['id']}", file=sys.stderr)
    allowed = allowed_names()
    report = [f"# System calls of helper processes after the lock-down, over {traced} of {len(fixtures)} fixtures",
              "# (scripts/record-helper-syscalls.py): call, times made, times refused with EPERM/ENOSYS."]
    missing = []
    for name in sorted(seen):
        base = name.split("(")[0]
        report.append(f"{name}\t{seen[name]}\t{refused[name]}")
        if refused[name] and base not in allowed and base not in EXPECTED_REFUSALS:
            missing.append(name)
    text = "\n".join(report) + "\n"
    print(text, end="")
    with open(args.out, "w") as f:
        f.write(text)
    if missing:
        print("refused calls the decoders made (not in the allow-list): " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
