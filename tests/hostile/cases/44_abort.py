# os.abort(): an "unreachable" trap in the guest.
# expect: trap=trap
# flags: --timeout 10
import os
os.abort()
