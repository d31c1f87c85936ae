# Runner self-test: an escaping symlink in the workspace, left by the
# guest through the dot-alias weakness (see cases/11), must FAIL the case
# via the workspace check even though the guest itself saw nothing.
# expect: trap=null exit=0
import os
os.symlink(".", "/app/s")
os.symlink("s/s/../..", "/app/up")
