# An in-memory sqlite database grown past a 64 MiB cap.
# expect: trap=memory_limit exception=MemoryError
# flags: --memory 64M --timeout 30
import sqlite3

db = sqlite3.connect(":memory:")
db.execute("create table t (x blob)")
while True:
    db.execute("insert into t values (?)", (b"x" * 100000,))
