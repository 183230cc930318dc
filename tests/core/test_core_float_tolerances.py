"""No test compares floats tighter than float32 kernels can promise on every x86-64 CPU.

BLAS picks kernels by CPU (AVX2, AVX-512) and batch shape, so float32 results move by a few
ulps between machines and grow through every op after. A tolerance below 1e-5 must say on
test function why it holds anyway: it computes in float64 (".double()", "float64") or a comment
says "exact" or "no BLAS". Zero tolerances claim bit equality (a value stored and read back)
and are left alone.
"""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
COMPARISONS = {"allclose", "assert_allclose", "assert_close", "isclose"}
FLOOR = 1e-5
REASONS = ("float64", "double", "exact", "no BLAS")


def _tight_comparisons(source: str):
    lines = source.splitlines()
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.Module)):
            continue
        text = "\n".join(lines[function.lineno - 1:function.end_lineno]) if hasattr(function, "lineno") else source
        if any(reason in text for reason in REASONS):
            continue
        for node in ast.walk(function):
            name = getattr(getattr(node, "func", None), "attr", getattr(getattr(node, "func", None), "id", None))
            if isinstance(node, ast.Call) and name in COMPARISONS:
                given = [kw.value.value for kw in node.keywords
                         if kw.arg in ("atol", "rtol") and isinstance(kw.value, ast.Constant)]
                if given and 0 < max(given) < FLOOR:  # all zero: a bit-exact claim, e.g. a stored copy
                    yield node.lineno, lines[node.lineno - 1].strip()


def test_no_comparison_is_tighter_than_float32_kernels_promise():
    offenders = [f"{path.relative_to(TESTS)}:{line}: {text}" for path in sorted(TESTS.rglob("test_*.py"))
                 for line, text in sorted(set(_tight_comparisons(path.read_text())))]
    assert not offenders, "\n".join(offenders)


def test_the_check_finds_a_tight_comparison():
    assert list(_tight_comparisons("torch.allclose(a, b, atol=1e-6)\n"))
    assert list(_tight_comparisons("def test_x():\n    torch.allclose(a, b, atol=1e-6)\n"))
    assert not list(_tight_comparisons("# float64: equality is the point\nnp.testing.assert_allclose(a, b, rtol=0)\n"))
    assert not list(_tight_comparisons("torch.allclose(a, b, atol=1e-4)\n"))
