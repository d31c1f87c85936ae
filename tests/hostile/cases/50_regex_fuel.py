# Catastrophic backtracking, bounded by fuel.
# expect: trap=out_of_fuel max_seconds=10
# flags: --fuel 2000000000 --timeout 30
import re
print("ESCAPED", re.match("(a+)+$", "a" * 40 + "b"))
