# The guest's stdin is empty (EOF at once) unless the caller gives one, and
# nothing looks like a terminal that could be driven.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 5
import os
import sys

escaped = []
data = sys.stdin.read()
if data:
    escaped.append("stdin had data")
print("stdin empty:", data == "")
for fd in (0, 1, 2):
    if os.isatty(fd):
        escaped.append(f"isatty {fd}")
        print(f"ESCAPED fd {fd} is a tty")
try:
    print("ESCAPED ttyname", os.ttyname(0))
    escaped.append("ttyname")
except (OSError, AttributeError) as e:
    print("BLOCKED ttyname:", type(e).__name__)
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
