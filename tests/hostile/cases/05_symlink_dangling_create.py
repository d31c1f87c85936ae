# Dangling symlinks whose targets lie outside: opening them with O_CREAT
# would create a file on the host if the link were followed.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
# flags: --timeout 10
# setup: symlink app/dangle_abs -> {CANARY}/created_abs.txt
# setup: symlink app/dangle_rel -> ../../canary/created_rel.txt
# setup: symlink app/dangle_dir -> ../../canary/newdir/file.txt
# setup: symlink app/dangle_tmp -> /tmp/vivarium-hostile-created.txt
# setup: symlink app/dangle_root -> ../../created_at_root.txt
import os

escaped = []


def attempt(name, fn):
    try:
        r = fn()
    except Exception as e:
        print(f"BLOCKED {name}: {type(e).__name__}: {e}")
        return
    print(f"ESCAPED {name}: {r!r:.300}")
    escaped.append(name)


for link in ["dangle_abs", "dangle_rel", "dangle_dir", "dangle_tmp", "dangle_root"]:
    p = "/app/" + link
    attempt(f"create via {link} (w)", lambda p=p: open(p, "w").write("created"))
    attempt(f"create via {link} (x)", lambda p=p: open(p, "x").write("created"))
    attempt(f"create via {link} (a)", lambda p=p: open(p, "a").write("created"))
    attempt(f"os.open O_CREAT {link}",
            lambda p=p: os.close(os.open(p, os.O_CREAT | os.O_WRONLY)) or "opened")
    attempt(f"mkdir via {link}/", lambda p=p: os.mkdir(p + "/"))
    # The link itself stays a dangling link in /app.
    if not os.path.islink(p):
        escaped.append(link)
        print(f"ESCAPED {link} is no longer a symlink")
# A dangling link made by the guest, inside, works as usual.
os.symlink("made_later.txt", "/app/inner_dangle")
open("/app/inner_dangle", "w").write("fine")
print("inner dangling link created its target:", open("/app/made_later.txt").read())
print("ALL BLOCKED" if not escaped else f"{len(escaped)} ESCAPED")
