# A busy loop under a fuel budget just above CPython's start-up cost.
# expect: trap=out_of_fuel max_seconds=10
# flags: --fuel 400000000 --timeout 30
while True:
    pass
