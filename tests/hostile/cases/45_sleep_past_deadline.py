# Sleeping far past a 1 s deadline: woken at the deadline, reported as a
# timeout, well before the sleep would have ended.
# expect: trap=timeout max_seconds=4
# flags: --timeout 1
import time
time.sleep(3600)
print("ESCAPED woke up")
