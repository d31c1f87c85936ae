# Output flood with a 64 KiB stdout cap: the run ends by fuel, stdout is
# exactly capped and flagged, and the parent's memory does not follow.
# expect: trap=out_of_fuel|timeout stdout_truncated=true min_stdout=65000
# flags: --stdout-max 64K --fuel 2000000000 --timeout 20
while True:
    print("A" * 1000)
