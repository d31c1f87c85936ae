# Runner self-test: a trap the case does not expect must FAIL the case.
# expect: trap=null exit=0
# flags: --fuel 300000000
while True:
    pass
