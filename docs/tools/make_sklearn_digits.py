# Usage: python3 make_sklearn_digits.py OUT_DIR [SCALE [METHOD]]
#        SCALE: output pixels per cell of the 8x8 image (default 4)
#        METHOD: bicubic (default), bilinear or nearest
# Needs numpy and scikit-learn (its bundled digits; nothing is downloaded).
#
# Writes every image of sklearn.datasets.load_digits (1,797 digits written
# by 13 people: the test set of UCI's "Optical Recognition of Handwritten
# Digits", E. Alpaydin and C. Kaynak, 1998, CC BY 4.0) as OUT_DIR/NNNN_L.png:
# image NNNN of load_digits, true label L. Rerunning it gives the same bytes;
# another numpy or BLAS could round a few pixels differently.
#
# Each 8x8 value is the number of ink pixels (0..16) in a 4x4 block of a
# 32x32 binary bitmap of the digit, size-normalized by NIST's programs so
# that the digit fills the box's height. A user's picture of such a digit
# is smooth, not a grid of squares, so the counts are resampled smoothly:
# the 8x8 image is put in a frame of 3 empty cells on each side (14x14
# cells: the digit is 57 % of the canvas, like a loosely cropped photo) and
# interpolated at SCALE pixels per cell, bicubic (Keys, a = -0.5), clipped
# to 0..1. The default, 4 pixels per cell, gives back the 32x32 resolution
# the counts were made from: a 56x56 8-bit gray PNG with a 32-pixel-tall
# digit. (SCALE 8, a 64-pixel digit on 112x112, scores within a point of it
# but takes 3.5 MB instead of 1.4 MB for the whole set.) Ink is white on
# black as in the data: 0 = background, 16 = full ink, mapped linearly to
# 0..255. Nothing else is done: finding the ink, scaling it to 20 pixels,
# stroke width and centering are left to DeepScratch's own preprocessing.
import numpy as np, zlib, struct, sys, os
from sklearn.datasets import load_digits

MARGIN = 3  # empty cells on each side

def png(path, arr):  # arr: uint8 HxW, written as 8-bit gray, every row Paeth-filtered
    h, w = arr.shape
    a = arr.astype(int); rows = []
    for y in range(h):
        up = a[y - 1] if y else np.zeros(w, int)
        left = np.concatenate([[0], a[y, :-1]]); upleft = np.concatenate([[0], up[:-1]])
        p = left + up - upleft; pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        rows.append(b'\x04' + ((a[y] - pred) % 256).astype(np.uint8).tobytes())
    def chunk(t, c): return struct.pack('>I', len(c)) + t + c + struct.pack('>I', zlib.crc32(t + c) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
                           + chunk(b'IDAT', zlib.compress(b''.join(rows), 9)) + chunk(b'IEND', b''))

def resampler(n, s, method):
    """(n*s) x n matrix: output pixel centers (o + 0.5)/s - 0.5 in cell units."""
    d = ((np.arange(n * s) + 0.5) / s - 0.5)[:, None] - np.arange(n)[None, :]
    t = np.abs(d)
    if method == 'bicubic':
        a = -0.5
        k = np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                     np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))
    elif method == 'bilinear':
        k = np.clip(1 - t, 0, None)
    elif method == 'nearest':
        k = ((d >= -0.5) & (d < 0.5)).astype(float)
    else:
        sys.exit('METHOD must be bicubic, bilinear or nearest')
    return k / k.sum(1, keepdims=True)

if len(sys.argv) < 2:
    sys.exit('usage: make_sklearn_digits.py OUT_DIR [SCALE [bicubic|bilinear|nearest]]')
out = sys.argv[1]
scale = int(sys.argv[2]) if len(sys.argv) > 2 else 4
method = sys.argv[3] if len(sys.argv) > 3 else 'bicubic'
os.makedirs(out, exist_ok=True)
digits = load_digits()
n = 8 + 2 * MARGIN
R = resampler(n, scale, method)
for i, (img, label) in enumerate(zip(digits.images, digits.target)):
    framed = np.zeros((n, n)); framed[MARGIN:MARGIN + 8, MARGIN:MARGIN + 8] = img / 16.0
    big = np.clip(R @ framed @ R.T, 0, 1)
    png('%s/%04d_%d.png' % (out, i, label), np.round(big * 255).astype(np.uint8))
