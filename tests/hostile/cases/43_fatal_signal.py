# faulthandler._sigsegv() raises SIGSEGV inside the guest: in WebAssembly
# that ends as a trap of the guest, never a signal in the host.
# expect: trap=trap
# flags: --timeout 10
import faulthandler
faulthandler._sigsegv()
print("ESCAPED survived")
