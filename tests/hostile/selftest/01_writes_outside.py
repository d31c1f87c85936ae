# Runner self-test: this case is given the canary directory as its
# workspace, so its write lands outside the protected line. The runner must
# report the host change (the case must FAIL).
# expect: trap=null exit=0
# flags: --workspace {CANARY}
open("/app/writable.txt", "w").write("changed")
