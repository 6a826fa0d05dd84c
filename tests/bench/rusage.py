#!/usr/bin/env python3
"""Runs a command and prints "<cpu_ms> <peak_rss_kib>" for it and the children it waited for.

CPU is user+sys from wait4's rusage, which Linux keeps in microseconds (GNU time prints
10 ms steps, too coarse for a ~5 ms client). Peak RSS is the largest resident set of any
single process of the tree, as GNU time reports it: the command runs under /usr/bin/time
because a child forked from Python would inherit Python's ~10 MB peak into its own maxrss,
while GNU time is a small C program. Both clients carry the same small overhead.
The command's own output goes to the file given with -o (or is discarded); its exit status
is passed on.

usage: rusage.py [-o OUTFILE] COMMAND [ARG...]
"""
import os
import sys


def main(argv):
    out = os.devnull
    if len(argv) > 2 and argv[1] == "-o":
        out, argv = argv[2], argv[2:]
    cmd = argv[1:]
    if not cmd:
        sys.exit(__doc__)
    rss_file = out + ".rss" if out != os.devnull else "/tmp/rusage.%d.rss" % os.getpid()
    cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd
    pid = os.fork()
    if pid == 0:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    with open(rss_file) as f:
        rss = f.read().split()[-1]
    os.unlink(rss_file)
    print(f"{(ru.ru_utime + ru.ru_stime) * 1000:.2f} {rss}")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
