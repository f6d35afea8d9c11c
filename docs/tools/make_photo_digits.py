# Usage: python3 make_photo_digits.py OUT_DIR SEED           (200 photo-like PNGs from MNIST test digits)
#        python3 make_photo_digits.py OUT.png SEED one      (one 1000x1000 RGB photo)
# Needs numpy and the MNIST test files: $DEEPSCRATCH_DATA, else ../shared/data/mnist.
# Makes photo-like PNGs of handwritten digits: ink on paper with uneven light,
# tint, noise, optional ruled/squared lines, any size, any PNG color type.
import numpy as np, zlib, struct, gzip, sys, os
DATA=os.environ.get('DEEPSCRATCH_DATA','../shared/data/mnist')
rng=np.random.default_rng(int(sys.argv[2]) if len(sys.argv)>2 else 0)
def png(path, arr, ct):  # arr uint8 HxW or HxWxC
    h,w=arr.shape[:2]
    raw=b''.join(b'\x00'+arr[y].tobytes() for y in range(h))
    def chunk(t,c): return struct.pack('>I',len(c))+t+c+struct.pack('>I',zlib.crc32(t+c)&0xffffffff)
    open(path,'wb').write(b'\x89PNG\r\n\x1a\n'+chunk(b'IHDR',struct.pack('>IIBBBBB',w,h,8,ct,0,0,0))+chunk(b'IDAT',zlib.compress(raw,6))+chunk(b'IEND',b''))
def upscale(img, s):  # bilinear upscale of a 28x28 float image
    h,w=img.shape; H,W=int(h*s),int(w*s)
    ys=(np.arange(H)+0.5)/s-0.5; xs=(np.arange(W)+0.5)/s-0.5
    y0=np.clip(np.floor(ys).astype(int),0,h-1); x0=np.clip(np.floor(xs).astype(int),0,w-1)
    y1=np.clip(y0+1,0,h-1); x1=np.clip(x0+1,0,w-1); ty=np.clip(ys-y0,0,1)[:,None]; tx=np.clip(xs-x0,0,1)[None,:]
    return (img[y0][:,x0]*(1-ty)*(1-tx)+img[y0][:,x1]*(1-ty)*tx+img[y1][:,x0]*ty*(1-tx)+img[y1][:,x1]*ty*tx)
def photo(digit, size, ink=(30,40,140), paper=(235,230,215), lines=None, gradient=0.35, noise=6):
    H=W=size; s=rng.uniform(0.45,0.7)*size/28
    d=np.clip(upscale(digit/255.0, s),0,1); dh,dw=d.shape
    oy=rng.integers(0,H-dh+1); ox=rng.integers(0,W-dw+1)
    a=np.zeros((H,W)); a[oy:oy+dh,ox:ox+dw]=d
    yy,xx=np.mgrid[0:H,0:W]/size
    light=1-gradient*(0.6*xx+0.4*yy)+0.05*np.sin(7*yy)
    img=np.zeros((H,W,3))
    for c in range(3): img[...,c]=paper[c]*light
    if lines=='ruled':
        for y in range(int(rng.integers(10,40)),H,int(size/8)): img[y:y+max(1,size//300),:,:]=img[y:y+max(1,size//300),:,:]*0.75
    if lines=='squared':
        step=int(size/10)
        for y in range(5,H,step): img[y:y+max(1,size//400),:,:]*=0.8
        for x in range(5,W,step): img[:,x:x+max(1,size//400),:]*=0.8
    for c in range(3): img[...,c]=img[...,c]*(1-a)+ink[c]*light*a
    img+=rng.normal(0,noise,img.shape)
    return np.clip(img,0,255).astype(np.uint8)
mn=np.frombuffer(gzip.open(DATA+'/t10k-images-idx3-ubyte.gz').read()[16:],dtype=np.uint8).reshape(-1,28,28)
lb=np.frombuffer(gzip.open(DATA+'/t10k-labels-idx1-ubyte.gz').read()[8:],dtype=np.uint8)
out=sys.argv[1]
if len(sys.argv)>3 and sys.argv[3]=='one':
    png(out, photo(mn[7].astype(float), 1000), 2)
else:
    for i in range(200):
        idx=int(rng.integers(0,10000)); kind=i%8; size=int(rng.choice([64,120,200,400,700]))
        d=mn[idx].astype(float)
        if kind==0: arr=photo(d,size); ct=2
        elif kind==1: arr=photo(d,size,lines='ruled'); ct=2
        elif kind==2: arr=photo(d,size,lines='squared',ink=(20,20,20)); ct=2
        elif kind==3: arr=photo(d,size,ink=(200,30,30),paper=(250,240,200),gradient=0.5); ct=2
        elif kind==4: arr=photo(d,size,gradient=0.0,noise=2).mean(2).astype(np.uint8); ct=0
        elif kind==5: # white chalk on dark board
            arr=photo(d,size,ink=(230,230,230),paper=(40,60,45),gradient=0.2); ct=2
        elif kind==6: # transparent canvas, black stroke
            g=np.clip(upscale(d/255.0,size/28*0.7),0,1); H=size; A=np.zeros((H,H)); o=(H-g.shape[0])//2; A[o:o+g.shape[0],o:o+g.shape[1]]=g
            arr=np.zeros((H,H,4),np.uint8); arr[...,3]=(A*255).astype(np.uint8); ct=6
        else: # off-center small digit on a big white page
            arr=photo(d,size,gradient=0.1,paper=(250,250,250),ink=(10,10,10)); ct=2
        png('%s/%04d_%d.png'%(out,i,lb[idx]), arr, ct)
