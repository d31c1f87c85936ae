# signal.raise_signal(SIGKILL) inside the guest is WASI proc_raise: it ends
# the guest with a trap; it is never delivered to a host process.
# expect: trap=trap
# flags: --timeout 10
import signal
signal.raise_signal(signal.SIGKILL)
print("ESCAPED survived SIGKILL")
