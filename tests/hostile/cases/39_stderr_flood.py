# Error-stream flood with a 16 KiB stderr cap, ended by the deadline.
# expect: trap=timeout stderr_truncated=true max_seconds=6
# flags: --stderr-max 16K --timeout 2 --fuel 1000000000000
import sys
while True:
    sys.stderr.write("E" * 4096 + "\n")
