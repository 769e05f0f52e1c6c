#!/usr/bin/env python3
"""Self cost per function in a callgrind file, per request: python3 self_cost.py FILE REQUESTS [TOP]."""
import sys,re,collections
names={}; cost=collections.Counter(); fn=None; skip=False; total=0
for line in open(sys.argv[1]):
    line=line.rstrip('\n')
    m=re.match(r'^fn=\((\d+)\)(?: (.*))?$',line)
    if m:
        i,n=m.groups()
        if n: names[i]=n
        fn=names.get(i,i); continue
    if line.startswith('calls='): skip=True; continue
    if line and (line[0].isdigit() or line[0] in '+-*'):
        parts=line.split()
        if len(parts)>=2:
            if skip: skip=False; continue
            c=int(parts[1]); cost[fn]+=c; total+=c
    elif line.startswith(('cfn=','cfi=','cob=')):
        m=re.match(r'^cfn=\((\d+)\)(?: (.*))?$',line)
        if m and m.group(2): names[m.group(1)]=m.group(2)
n=int(sys.argv[2])
print("total", total, "per request", total//n)
for f,c in cost.most_common(int(sys.argv[3]) if len(sys.argv)>3 else 45):
    print(f"{c/n:9.0f} {100*c/total:5.1f}%  {f[:150]}")
