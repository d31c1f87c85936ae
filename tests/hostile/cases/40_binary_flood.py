# Bytes that are not UTF-8, NULs and escape sequences on stdout: the JSON
# result must stay valid (invalid bytes become U+FFFD) and capped.
# expect: trap=out_of_fuel stdout_truncated=true
# flags: --stdout-max 32K --fuel 1500000000 --timeout 20
import sys
junk = bytes(range(256)) + b"\xff\xfe\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\x00\x1b[2J\r"
while True:
    sys.stdout.buffer.write(junk)
    sys.stdout.buffer.flush()
