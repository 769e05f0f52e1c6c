#!/usr/bin/env python3
"""Who calls FUNCTION, and at what inclusive cost per request: python3 callers.py FILE FUNCTION REQUESTS."""
import sys,re,collections
target=sys.argv[2]; n=int(sys.argv[3])
names={}; fn=None; cfn=None; pending=False; by=collections.Counter()
for line in open(sys.argv[1]):
    line=line.rstrip('\n')
    m=re.match(r'^fn=\((\d+)\)(?: (.*))?$',line)
    if m:
        i,nm=m.groups()
        if nm: names[i]=nm
        fn=names.get(i,i); continue
    m=re.match(r'^cfn=\((\d+)\)(?: (.*))?$',line)
    if m:
        i,nm=m.groups()
        if nm: names[i]=nm
        cfn=names.get(i,i); continue
    if line.startswith('calls='): pending=True; continue
    if pending and line and (line[0].isdigit() or line[0] in '+-*'):
        pending=False
        if target in cfn:
            by[fn]+=int(line.split()[1])
for f,c in by.most_common(15): print(f"{c/n:9.0f}  {f[:160]}")
