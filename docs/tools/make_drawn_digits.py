# Usage: python3 make_drawn_digits.py OUT_DIR SEED COUNT   (pen-drawn digits, none from MNIST)
# Needs numpy.
# Draws digits as a person would on a canvas: pen strokes (polylines through
# jittered control points), random slant, size, position, stroke width,
# polarity and background; writes PNGs named NNNN_L.png. None come from MNIST.
import numpy as np, zlib, struct, sys, math
rng=np.random.default_rng(int(sys.argv[2]))
def png(path, arr, ct):
    h,w=arr.shape[:2]; raw=b''.join(b'\x00'+arr[y].tobytes() for y in range(h))
    def chunk(t,c): return struct.pack('>I',len(c))+t+c+struct.pack('>I',zlib.crc32(t+c)&0xffffffff)
    open(path,'wb').write(b'\x89PNG\r\n\x1a\n'+chunk(b'IHDR',struct.pack('>IIBBBBB',w,h,8,ct,0,0,0))+chunk(b'IDAT',zlib.compress(raw,6))+chunk(b'IEND',b''))
def arc(cx,cy,rx,ry,a0,a1,n=24): return [(cx+rx*math.cos(math.radians(a)),cy+ry*math.sin(math.radians(a))) for a in np.linspace(a0,a1,n)]
# unit box: x 0..1 (left-right), y 0..1 (top-bottom)
S={
0:[arc(.5,.5,.32,.45,0,360,40)],
1:[[(.35,.25),(.55,.05),(.55,.95)]],
2:[arc(.5,.3,.3,.25,200,360)+[(.8,.35),(.2,.95),(.85,.95)]],
3:[arc(.48,.28,.28,.22,200,450)[:-3]+arc(.48,.72,.32,.24,270,520)],
4:[[(.6,.05),(.15,.65),(.9,.65)],[(.65,.35),(.65,.98)]],
5:[[(.8,.05),(.3,.05),(.25,.45)]+arc(.5,.67,.32,.28,230,500)],
6:[[(.7,.05),(.35,.45)]+arc(.5,.7,.28,.27,200,560)],
7:[[(.15,.08),(.85,.08),(.4,.95)]],
8:[arc(.5,.27,.25,.21,90,450),arc(.5,.72,.3,.25,270,630)],
9:[arc(.5,.3,.28,.25,0,360),[(.78,.3),(.7,.95)]],
}
def render(d, H, W, width, slant, box, off):
    img=np.zeros((H,W)); yy,xx=np.mgrid[0:H,0:W]+0.5
    for stroke in S[d]:
        pts=[]
        for (x,y) in stroke:
            x+=rng.normal(0,.03); y+=rng.normal(0,.03)
            x=x+slant*(0.5-y)
            pts.append((off[0]+x*box*0.7, off[1]+y*box))
        for (x0,y0),(x1,y1) in zip(pts,pts[1:]):
            dx,dy=x1-x0,y1-y0; L=dx*dx+dy*dy+1e-9
            t=np.clip(((xx-x0)*dx+(yy-y0)*dy)/L,0,1)
            dist=np.hypot(xx-(x0+t*dx),yy-(y0+t*dy))
            img=np.maximum(img,np.clip(width/2+0.5-dist,0,1))
    return img
out=sys.argv[1]; n=int(sys.argv[3])
for i in range(n):
    d=i%10; H=W=int(rng.choice([28,64,140,280,500])); box=H*rng.uniform(.45,.85)
    off=(rng.uniform(0,W-box*0.8),rng.uniform(0,H-box))
    width=max(1.0,rng.choice([1,0.03*box,0.08*box,0.15*box])); slant=rng.uniform(-.3,.3)
    a=render(d,H,W,width,slant,box,off)
    kind=i%4
    if kind==0: arr=(255-a*255).astype(np.uint8); ct=0                  # black pen on white
    elif kind==1: arr=(a*255).astype(np.uint8); ct=0                    # white on black
    elif kind==2:                                                        # blue ink on cream, RGB
        arr=np.zeros((H,W,3),np.uint8)
        for c,(ink,pap) in enumerate(zip((20,40,160),(245,240,220))): arr[...,c]=(pap*(1-a)+ink*a).astype(np.uint8)
        ct=2
    else:                                                                 # strokes on a transparent canvas
        arr=np.zeros((H,W,4),np.uint8); arr[...,3]=(a*255).astype(np.uint8); ct=6
    png('%s/%04d_%d.png'%(out,i,d),arr,ct)
