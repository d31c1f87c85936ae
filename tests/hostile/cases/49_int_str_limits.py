# int <-> str conversion limits (PEP 651's sys.int_info.default_max_str_digits)
# refuse quadratic conversions; lifting the limit leaves fuel as the bound.
# expect: trap=out_of_fuel stdout_contains="BLOCKED str()" stdout_contains="BLOCKED int()"
# flags: --fuel 3000000000 --timeout 30
import sys
big = 10 ** 50000
try:
    print("ESCAPED", len(str(big)))
except ValueError as e:
    print("BLOCKED str():", e, flush=True)
try:
    print("ESCAPED", int("9" * 50000).bit_length())
except ValueError as e:
    print("BLOCKED int():", e, flush=True)
sys.set_int_max_str_digits(0)
s = str(10 ** 3000000)
print("ESCAPED converted", len(s))
