"""Run a command and write its peak RSS (bytes) and wall seconds to a file.

Usage: ``python -I -S memlaunch.py REPORT CMD [ARGS...]``. The fallback for machines without GNU
``/usr/bin/time``: started as a fresh, small interpreter, it forks the command itself, so the
child's high-water mark starts from this small process rather than from the benchmark harness.
stdin, stdout, stderr and the exit status pass through.
"""

import os
import sys
import time

# Linux reports ru_maxrss in KiB, macOS in bytes.
MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


def main() -> int:
    report, argv = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    with open(report, "w") as f:
        f.write(f"{usage.ru_maxrss * MAXRSS_UNIT} {seconds:.6f}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
