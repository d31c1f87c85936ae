# Time-of-check/time-of-use: while the guest opens /app/slot/secret.txt in a
# loop, the runner swaps /app/slot (a real directory holding a decoy) with
# /app/evil (a symlink to the canary tree) as fast as it can, atomically
# (renameat2 RENAME_EXCHANGE). Every open must see the decoy or fail; no
# read may return canary content, no write may land in the canary, no
# listing may show the canary's names.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED" stdout_contains="decoy reads:"
# flags: --timeout 60 --fuel 40000000000
# watchdog: 120
# setup: mkdir app/slot
# setup: file app/slot/secret.txt = DECOY
# setup: mkdir app/slot/notes
# setup: symlink app/evil -> {CANARY}
# race: exchange app/slot app/evil
import os

escaped = []
reads = errors = writes = lists = 0
for i in range(8000):
    try:
        data = open("/app/slot/secret.txt").read()
        if data not in ("DECOY", "") and not data.startswith("DECOY"):
            escaped.append(f"read {data!r:.80}")
        reads += 1
    except OSError:
        errors += 1
    try:
        with open("/app/slot/secret.txt", "a") as f:
            f.write("+")
        writes += 1
    except OSError:
        errors += 1
    try:
        names = set(os.listdir("/app/slot"))
        if names & {"writable.txt", "empty", "link"}:
            escaped.append(f"listing {sorted(names)}")
        lists += 1
    except OSError:
        errors += 1
    try:
        os.stat("/app/slot/notes/inner.txt")
        escaped.append("stat of the canary's notes/inner.txt succeeded")
    except OSError:
        pass
print(f"decoy reads: {reads}, appends: {writes}, listings: {lists}, refused: {errors}")
for e in escaped[:10]:
    print("ESCAPED", e)
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
