# Runner self-test: the canary is mounted read-only, and the case prints
# the secret. The runner must notice the token in the output (FAIL).
# expect: trap=null exit=0
# flags: --mount {CANARY}:/c
print(open("/c/secret.txt").read())
