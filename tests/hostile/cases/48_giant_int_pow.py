# 2**10**8: a 100-million-bit integer, stopped by fuel.
# expect: trap=out_of_fuel|memory_limit max_seconds=15
# flags: --fuel 2000000000 --timeout 30
x = 2 ** 10 ** 8
print("ESCAPED computed", x.bit_length())
