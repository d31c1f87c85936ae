# A busy loop with a practically unlimited fuel budget: stopped by the 1 s
# deadline.
# expect: trap=timeout max_seconds=4
# flags: --timeout 1 --fuel 1000000000000000
while True:
    pass
