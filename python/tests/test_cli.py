"""`python -m deepscratch` prints what `dsc predict` prints, and
examples/classify.py keeps the C example's output; both also without numpy."""

import json
import os
import re
import subprocess
import sys

import pytest

from _support import EXAMPLE_DIGITS, PYTHON_DIR, REPO, SHIPPED_MODEL, label_of

LINE = re.compile(r"^(?P<path>.+): (?P<label>\S+) \((?P<percent>\d+\.\d)%\)$")
TOP_ITEM = re.compile(r"^(?P<label>\S+) (?P<percent>\d+\.\d)%$")
# Runs a module or script with numpy unimportable.
NO_NUMPY = "import runpy, sys; sys.modules['numpy'] = None; sys.argv = sys.argv[1:]; "


def _env(**changes):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PYTHON_DIR) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["DEEPSCRATCH_MODEL"] = str(SHIPPED_MODEL)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _run(args, numpy=True, env=None, cwd=REPO):
    if numpy:
        command = [sys.executable, "-m", "deepscratch"] + args
    else:
        command = [sys.executable, "-c", NO_NUMPY + "runpy.run_module('deepscratch', run_name='__main__')", "x"] + args
    return subprocess.run(command, cwd=str(cwd), env=env or _env(), capture_output=True, text=True, timeout=300)


def _digits():
    return [os.path.relpath(p, REPO) for p in EXAMPLE_DIGITS]


@pytest.mark.parametrize("numpy", [True, False], ids=["numpy", "no-numpy"])
def test_predict_lines(numpy):
    result = _run(_digits(), numpy=numpy)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(EXAMPLE_DIGITS)
    for line, path in zip(lines, _digits()):
        m = LINE.match(line)
        assert m, line
        assert m.group("path") == path and m.group("label") == label_of(path)
        assert 50 <= float(m.group("percent")) <= 100


def test_predict_top_and_json():
    result = _run(["--top", "3"] + _digits())
    assert result.returncode == 0, result.stderr
    for line, path in zip(result.stdout.splitlines(), _digits()):
        assert line.startswith(path + ": ")
        items = line[len(path) + 2:].split(", ")
        assert len(items) == 3 and all(TOP_ITEM.match(item) for item in items), line
        assert items[0].split(" ")[0] == label_of(path)
    result = _run(["--json", "--top", "2"] + _digits())
    assert result.returncode == 0, result.stderr
    assert '"file" : "examples\\/digits\\/' in result.stdout  # Foundation's spelling, as dsc prints it
    document = json.loads(result.stdout)
    assert [d["file"] for d in document] == _digits()
    for d in document:
        assert d["label"] == label_of(d["file"]) and len(d["top"]) == 2 and d["top"][0]["label"] == d["label"]
        assert d["probability"] == d["top"][0]["probability"]


def test_a_missing_file_is_reported_and_the_others_still_run(tmp_path):
    missing = str(tmp_path / "missing_5.png")
    args = _digits()
    args.insert(1, missing)
    result = _run(args)
    assert result.returncode == 1
    assert missing in result.stderr and result.stderr.startswith("deepscratch: error: ")
    assert missing not in result.stdout
    assert len(result.stdout.splitlines()) == len(EXAMPLE_DIGITS)
    result = _run(["--json", missing])
    assert result.returncode == 1 and json.loads(result.stdout)[0]["file"] == missing


def test_usage_errors_and_a_model_that_does_not_load(tmp_path):
    assert _run([]).returncode == 64  # no images: as dsc (EX_USAGE)
    result = _run(["--top", "0"] + _digits())
    assert result.returncode == 1 and "invalid --top '0'" in result.stderr
    missing_model = str(tmp_path / "no-model.dsm")
    result = _run(["--model", missing_model] + _digits())
    assert result.returncode == 1 and missing_model in result.stderr and result.stdout == ""
    # No --model, no $DEEPSCRATCH_MODEL and no model in the package (a checkout has none).
    result = _run(_digits(), env=_env(DEEPSCRATCH_MODEL=None))
    assert result.returncode == 1 and "--model" in result.stderr
    # A shipped name is the package's file, not a path here: a checkout has none, and the error names it.
    result = _run(["--model", "mlp"] + _digits())
    assert result.returncode == 1 and os.path.join("_lib", "mlp.dsm") in result.stderr, result.stderr


def test_output_is_byte_for_byte_dsc_predicts():
    """With $DEEPSCRATCH_DSC naming a dsc executable (.ci/run sets it), the
    output equals dsc predict's for the same arguments."""
    dsc = os.environ.get("DEEPSCRATCH_DSC", "")
    if not dsc:
        pytest.skip("set DEEPSCRATCH_DSC to a dsc executable to compare with it")
    fixture = os.path.relpath(sorted((REPO / "Tests" / "Fixtures" / "digits-png").glob("*.png"))[0], REPO)
    for args in ([], ["--top", "3"], ["--json", "--top", "10"]):
        ours = _run(args + _digits() + [fixture])
        theirs = subprocess.run([dsc, "predict"] + args + _digits() + [fixture], cwd=str(REPO), env=_env(),
                                capture_output=True, text=True, timeout=300)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args


# --- examples/classify.py -----------------------------------------------------------

CLASSIFY_PY = str(REPO / "examples" / "classify.py")
C_LINE = re.compile(r"^(?P<path>.+): (?P<label>\S+) \((?P<percent>\d+\.\d) %\)$")


def _classify_py(args, env=None):
    # Plain python3, only DEEPSCRATCH_LIB set (as the Swift test runs it), numpy unimportable.
    env = env or {"PATH": os.environ.get("PATH", ""), "DEEPSCRATCH_LIB": os.environ["DEEPSCRATCH_LIB"]}
    command = [sys.executable, "-c", NO_NUMPY + "runpy.run_path(sys.argv[0], run_name='__main__')", CLASSIFY_PY]
    return subprocess.run(command + args, cwd="/", env=env, capture_output=True, text=True, timeout=300)


def test_classify_py_prints_the_c_examples_lines():
    paths = [str(p) for p in EXAMPLE_DIGITS]
    result = _classify_py([str(SHIPPED_MODEL)] + paths)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(paths)
    for line, path in zip(lines, paths):
        m = C_LINE.match(line)
        assert m and m.group("path") == path and m.group("label") == label_of(path), line


def test_classify_py_exit_statuses(tmp_path):
    paths = [str(p) for p in EXAMPLE_DIGITS]
    missing = str(tmp_path / "missing_5.png")
    result = _classify_py([str(SHIPPED_MODEL), missing] + paths)
    assert result.returncode == 1 and missing in result.stderr and len(result.stdout.splitlines()) == len(paths)
    assert result.stderr.startswith("classify.py: ")
    assert _classify_py([str(SHIPPED_MODEL)]).returncode == 2
    result = _classify_py([str(tmp_path / "no-model.dsm")] + paths)
    assert result.returncode == 2 and "no-model.dsm" in result.stderr and result.stdout == ""
    env = {"PATH": os.environ.get("PATH", ""), "DEEPSCRATCH_LIB": str(tmp_path / "nowhere.so")}
    result = _classify_py([str(SHIPPED_MODEL)] + paths, env=env)
    assert result.returncode == 2 and "DEEPSCRATCH_LIB" in result.stderr
