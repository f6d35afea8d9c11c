"""``python -m deepscratch [--model M] [--top K] [--json] IMAGE.png ...``

Classifies PNG pictures of digits and prints what ``dsc predict`` prints:
one line per file, ``FILE: LABEL (PP.P%)``; with ``--top K``, ``FILE: L1
PP.P%, L2 PP.P%, ...``; with ``--json``, the same JSON document. A file that
fails is reported on stderr (``deepscratch: error: ...``) and the others
still run. Exit status: 0 if every file was classified, 1 if any failed or
the model does not load, 64 for bad usage (as dsc).

The model: --model, else $DEEPSCRATCH_MODEL, else the model bundled in the
package (the wheel ships the two dsc ships; the names "default" and "mlp"
mean them, as in dsc).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, List, Optional

from . import Error, Model, default_model_candidates, default_model_path, resolve_model, set_threads

PROG = "deepscratch"
EX_USAGE = 64


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # bad usage: exit 64, as dsc (Swift Argument Parser) does
        self.print_usage(sys.stderr)
        sys.stderr.write("%s: error: %s\n" % (PROG, message))
        sys.exit(EX_USAGE)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m deepscratch", description="Classify PNG images of single digits (as 'dsc "
                     "predict'). One line per file; a file that fails reports its error and the others still run; "
                     "the exit status is 1 if any failed.")
    parser.add_argument("images", nargs="+", metavar="IMAGE.png", help="PNG files")
    parser.add_argument("--model", help="model file, or a shipped model's name: default (the convolutional network) or mlp "
                        "(smaller and faster) (default: $DEEPSCRATCH_MODEL, or default)")
    parser.add_argument("--top", type=int, default=1, help="show the k most probable classes")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    return parser


def _fail(message: str) -> int:
    sys.stderr.write("%s: error: %s\n" % (PROG, message))
    return 1


def _percent(p: float) -> str:
    return "%.1f%%" % (p * 100)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the command line `argv` (default sys.argv[1:]); returns the exit status."""
    args = _parser().parse_intermixed_args(argv)
    if args.top < 1:
        return _fail("invalid --top '%d': expected a positive integer" % args.top)
    path = resolve_model(args.model) if args.model else default_model_path()
    if path is None:
        return _fail("no --model given and no default model found (looked in %s); pass --model MODEL.dsm"
                     % ", ".join(default_model_candidates()))
    try:
        set_threads(1)  # as dsc predict: one image at a time, on this thread
        model = Model(path)
    except Error as e:
        return _fail(str(e))
    failures = 0
    results: List[Any] = []
    with model:
        k = min(args.top, model.class_count)
        for image in args.images:
            try:
                p = model.classify_png(image)
            except Error as e:
                failures += 1
                if args.json:
                    results.append({"file": image, "error": str(e)})
                _fail(str(e))
                continue
            best = p.top(k)
            if args.json:
                results.append({"file": image, "label": p.label, "probability": p.probability,
                                "top": [{"label": label, "probability": q} for label, q in best]})
            elif k == 1:
                print("%s: %s (%s)" % (image, p.label, _percent(best[0][1])))
            else:
                print("%s: %s" % (image, ", ".join("%s %s" % (label, _percent(q)) for label, q in best)))
    if args.json:
        print(_json(results))
    return 1 if failures else 0


def _json(value: Any, indent: str = "") -> str:
    """JSON as dsc prints it (Foundation's JSONSerialization, pretty-printed
    with sorted keys): two-space indents, ``"key" : value``, escaped
    slashes, whole numbers without a fraction."""
    inner = indent + "  "
    if isinstance(value, dict):
        items = ["%s%s : %s" % (inner, _json_string(key), _json(value[key], inner)) for key in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        return "[\n" + ",\n".join(inner + _json(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return "%d" % value
    return repr(value)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_string(s: str) -> str:
    out = []
    for c in s:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


if __name__ == "__main__":
    sys.exit(main())
