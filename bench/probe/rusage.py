#!/usr/bin/env python3
"""Run a command and report its own resource use, precisely.

    rusage.py OUTFILE CMD [ARG...]

Writes "WALL_S USER_S SYS_S MAXRSS_KB" for CMD alone (wait4() rusage, in
microseconds, not /usr/bin/time's hundredths) to OUTFILE and exits with
CMD's exit status. The wrapper's own start-up is not counted.
"""
import os
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: rusage.py OUTFILE CMD [ARG...]\n")
        return 2
    out, argv = sys.argv[1], sys.argv[2:]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            sys.stderr.write("rusage.py: %s: %s\n" % (argv[0], e.strerror))
        os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - start
    with open(out, "w") as f:
        f.write("%.6f %.6f %.6f %d\n" % (wall, ru.ru_utime, ru.ru_stime,
                                         ru.ru_maxrss))
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code  # killed: 128 + signal


if __name__ == "__main__":
    sys.exit(main())
