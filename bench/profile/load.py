#!/usr/bin/env python3
"""Sends N chat completions over one keep-alive connection: python3 load.py N PORT [PATH].

PROFILE_CACHE in the environment picks what the response cache does (every
mode sends `temperature: 0`, as a request sampling randomly is not cached
unless its project says so):
  use   `x-airlock-cache: use`, one prompt: after the first, all hits;
  miss  `x-airlock-cache: use`, a new prompt each time: all misses;
  off   no header, a new prompt each time: the baseline of `miss`."""
import http.client, json, os, sys, time
n=int(sys.argv[1]); port=int(sys.argv[2]); path=sys.argv[3] if len(sys.argv)>3 else "/v1/chat/completions"
mode=os.environ.get("PROFILE_CACHE", "")
headers={"content-type":"application/json","authorization":"Bearer bench-key"}
if mode in ("use", "miss"):
    headers["x-airlock-cache"]="use"
def body(i):
    prompt="Say hello in five words." if mode in ("", "use") else "Say hello in five words (%d-%d)." % (os.getpid(), i)
    request={"model":"gpt-4o-mini","messages":[{"role":"user","content":prompt}]}
    if mode:
        request["temperature"]=0
    return json.dumps(request)
c=http.client.HTTPConnection("127.0.0.1",port)
ok=0
t=time.time()
for i in range(n):
    c.request("POST",path,body=body(i),headers=headers)
    r=c.getresponse(); d=r.read()
    if r.status==200: ok+=1
print(ok, "ok of", n, "in", round(time.time()-t,2), "s")
