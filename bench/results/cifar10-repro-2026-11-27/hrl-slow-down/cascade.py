import json,sys
# For each log: first step with mean executed < 0.85 (cascade), alpha then, the lowest executed
# and its step, and the first later step back above 0.9 (reopened).
for path in sys.argv[1:]:
    ev=[]
    for l in open(path):
        if not l.startswith('{'): continue
        e=json.loads(l)
        if e.get('type')=='train':
            r=e['gateExecRates']; ev.append((e['step'], e.get('alpha',0), sum(r)/len(r)))
    c=next((x for x in ev if x[2]<0.85),None)
    if not c: print(path,'no cascade; last',ev[-1]); continue
    after=[x for x in ev if x[0]>=c[0]]
    lo=min(after,key=lambda x:x[2])
    back=next((x for x in after if x[0]>lo[0] and x[2]>0.9),None)
    print(f"{path}: cascade step {c[0]} alpha {c[1]:.3f}; lowest executed {lo[2]:.3f} at {lo[0]} (alpha {lo[1]:.3f}); back above 0.9 at {back[0] if back else None} (alpha {back[1]:.3f})" if back else f"{path}: cascade {c[0]} alpha {c[1]:.3f}; lowest {lo[2]:.3f} at {lo[0]}; not back; last step {ev[-1][0]} exec {ev[-1][2]:.3f} alpha {ev[-1][1]:.3f}")
