# Runner self-test: a case that claims an escape must FAIL even though its
# own expectations hold.
# expect: trap=null exit=0 stdout_contains="ALL BLOCKED"
print("ESCAPED pretend")
print("ALL BLOCKED")
