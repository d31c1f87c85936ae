# Catastrophic backtracking with unlimited fuel, bounded by the deadline.
# expect: trap=timeout max_seconds=5
# flags: --timeout 1.5 --fuel 1000000000000000
import re
print("ESCAPED", re.match("(x+x+)+y", "x" * 64))
