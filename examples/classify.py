#!/usr/bin/env python3
"""classify.py MODEL.dsm IMAGE.png ... -- the C example, through the deepscratch package.

Prints "IMAGE: LABEL (PROBABILITY %)" per image; exit status 1 if any image
failed, 2 for bad usage or a model that does not load. The library is found
through $DEEPSCRATCH_LIB, else a copy inside the package (the wheel's), else
the system's loader path (libdeepscratch.so.1). The package is imported from
../python beside this file (a checkout), else from where it is installed;
numpy is not needed.
"""
import os
import sys

_CHECKOUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "python")
if os.path.isfile(os.path.join(_CHECKOUT, "deepscratch", "__init__.py")):
    sys.path.insert(0, os.path.abspath(_CHECKOUT))

import deepscratch  # noqa: E402

deepscratch.use_numpy(False)  # as the C example: plain lists, numpy never imported


def main(argv):
    if len(argv) < 3:
        print("usage: classify.py MODEL.dsm IMAGE.png ...", file=sys.stderr)
        return 2
    try:
        model = deepscratch.Model(argv[1])  # also checks the library's version
    except deepscratch.Error as e:
        print("classify.py: %s" % e, file=sys.stderr)
        return 2
    failures = 0
    with model:
        for path in argv[2:]:
            try:
                p = model.classify_png(path)
            except deepscratch.Error as e:
                print("classify.py: %s" % e, file=sys.stderr)
                failures += 1
                continue
            print("%s: %s (%.1f %%)" % (path, p.label, 100.0 * p.probability))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
