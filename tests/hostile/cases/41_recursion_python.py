# Python recursion with the limit lifted: frames grow on the heap until the
# memory cap or the fuel stops it; the host stack is never at risk.
# expect: trap=memory_limit|out_of_fuel
# flags: --memory 32M --fuel 3000000000 --timeout 20
import sys
sys.setrecursionlimit(10**9)


def f(n):
    return f(n + 1) + 1


f(0)
