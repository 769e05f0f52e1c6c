#!/usr/bin/env python3
"""Sends N chat completions over one keep-alive connection: python3 load.py N PORT [PATH]."""
import http.client, json, sys, time
n=int(sys.argv[1]); port=int(sys.argv[2]); path=sys.argv[3] if len(sys.argv)>3 else "/v1/chat/completions"
body=json.dumps({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in five words."}]})
c=http.client.HTTPConnection("127.0.0.1",port)
ok=0
t=time.time()
for i in range(n):
    c.request("POST",path,body=body,headers={"content-type":"application/json","authorization":"Bearer bench-key"})
    r=c.getresponse(); d=r.read()
    if r.status==200: ok+=1
print(ok, "ok of", n, "in", round(time.time()-t,2), "s")
