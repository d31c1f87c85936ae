# A file-backed sqlite database in /app that grows without end: memory
# stays small, the deadline ends it (the file-size rlimit of 1 GiB would be
# next), and the host gets back a well-formed result.
# expect: trap=timeout|out_of_fuel max_seconds=8
# flags: --memory 64M --timeout 3 --fuel 1000000000000
import sqlite3

db = sqlite3.connect("/app/grow.sqlite")
db.execute("create table t (x blob)")
while True:
    db.execute("insert into t values (?)", (b"x" * 100000,))
    db.commit()
