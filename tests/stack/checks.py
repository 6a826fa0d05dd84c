"""A named-check tally for the stack scripts: each check prints a line; the summary line is
`N passed, N failed` and the exit status says whether all passed."""
import sys


class Checks:
    def __init__(self, title):
        self.title = title
        self.passed = 0
        self.failed = []

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"  ok   {name}")
        else:
            self.failed.append(name)
            print(f"  FAIL {name}" + (f": {detail}" if detail else ""))
        return ok

    def equal(self, name, got, want):
        return self.check(name, got == want, f"got {got!r}, want {want!r}")

    def finish(self):
        for name in self.failed:
            print(f"failed: {name}")
        print(f"{self.title}: {self.passed} passed, {len(self.failed)} failed")
        sys.exit(1 if self.failed or not self.passed else 0)
