import math
def cosine(T):
    f=lambda s: math.cos((s+0.008)/1.008*math.pi/2)**2
    return [min(1-f((t+1)/T)/f(t/T),0.999) for t in range(T)]
def linear(T):
    s=1000/T; a,b=1e-4*s,0.02*s
    return [a+(b-a)*i/(T-1) for i in range(T)]
def scaled(T):
    a,b=math.sqrt(0.00085),math.sqrt(0.012)
    return [(a+(b-a)*i/(T-1))**2 for i in range(T)]
def ab(betas):
    out=[];p=1.0
    for b in betas: p*=(1-b); out.append(p)
    return out
def zt(a):
    s=[math.sqrt(x) for x in a]; f,l=s[0],s[-1]
    return [((x-l)*f/(f-l))**2 for x in s]
for name,fn in [('cosine',cosine),('linear',linear),('scaled-linear',scaled)]:
    for T in (1000,):
        a=ab(fn(T))
        z=zt(a)
        for t in (0,1,250,500,999):
            print(name,T,t,repr(a[t]),repr(z[t]))
    a=ab(fn(50))
    print(name,50,49,repr(a[49]), repr(a[10]))
