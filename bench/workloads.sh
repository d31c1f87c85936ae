# bench/workloads.sh: the three workloads every guest comparison runs
# (sourced by bench.sh and own_guest.sh, which define `bench NAME CODE`).
bench "print(1)" 'print(1)'
bench "loop 3M iterations" 'x = 0
for i in range(3_000_000):
    x += i
print(x)'
bench "json/re/sort mix" 'import json, re
data = [{"id": i, "name": f"item{i}", "tags": ["a", "b", str(i % 7)]} for i in range(20000)]
s = json.dumps(data)
back = json.loads(s)
names = sorted((d["name"] for d in back), key=lambda n: n[::-1])
hits = sum(1 for n in names if re.search(r"item(\d)\1", n))
print(len(s), hits)'
