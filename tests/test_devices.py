"""The course on the devices students have: nothing that may live on a notebook's device (cuda, Apple's mps) is
turned into float64, which MPS does not have.

:class:`OnMPS` is a CPU tensor that answers as an MPS tensor does where float64 is concerned: an operation whose
result is float64 raises, ``.cpu()`` gives a plain CPU tensor. The checks get students' outputs as ``OnMPS`` and
must still pass the solutions; a scan of ``course_utils``' source finds float64 conversions of tensors that were
not moved to the CPU first.
"""

import ast
from pathlib import Path

import pytest
import torch

from course_utils import checks
from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.checks import nb02, nb05
from helpers import checks_run as _run

PACKAGE = Path(__file__).resolve().parents[1] / "course_utils"


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v)


class OnMPS(torch.Tensor):
    """A CPU tensor that fails where an MPS tensor fails for want of float64. (MPS raises a TypeError; this raises
    a RuntimeError, since a TypeError inside ``a - b`` reads to Python as "not implemented for these types".)"""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.cpu:
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **kwargs).as_subclass(torch.Tensor)
        out = super().__torch_function__(func, types, args, kwargs)
        if any(t.dtype == torch.float64 for t in _tensors(out)):
            raise RuntimeError("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support "
                            "float64. Please use float32 instead.")
        return out


def on_mps(value):
    """``value`` (a tensor, or a tuple of them) as the output of a function that ran on MPS: its float32, integer
    and bool tensors become :class:`OnMPS` (a tensor on MPS is never float64, so float64 ones stay as they are)."""
    if isinstance(value, tuple):
        return tuple(on_mps(v) for v in value)
    if isinstance(value, torch.Tensor) and value.dtype != torch.float64:
        return value.as_subclass(OnMPS)
    return value


def test_on_mps_fails_as_mps_does_and_cpu_gives_a_plain_tensor():
    t = on_mps(torch.tensor([0.0, 1.0, 0.0]))
    with pytest.raises(RuntimeError, match="float64"):
        (t == 0).double()
    with pytest.raises(RuntimeError, match="float64"):
        t - torch.zeros(3, dtype=torch.float64)  # combined with a float64 tensor
    with pytest.raises(RuntimeError, match="float64"):
        t.to(torch.float64)
    assert type(t.cpu()) is torch.Tensor
    assert (t == 0).cpu().double().mean().item() == 2 / 3
    assert type(t * 2) is OnMPS and (t * 2).sum().item() == 2.0  # float32 work stays "on MPS" and works


# ----------------------------------------------------------------------------- checks get outputs from MPS
def test_corrupt_check_passes_the_solution_whose_outputs_live_on_mps(capsys):
    corrupt = solution_namespace(SOLUTIONS_DIR / "02_autoencoders.ipynb")["corrupt"]

    def corrupt_on_mps(*args, **kwargs):
        return on_mps(corrupt(*args, **kwargs))

    ok, out = _run(nb02.check_corrupt, corrupt_on_mps, capsys)
    assert ok and out.startswith("[PASS] corrupt"), out


def test_random_masking_check_passes_the_solution_whose_mask_lives_on_mps(capsys):
    random_masking = solution_namespace(SOLUTIONS_DIR / "05_mae.ipynb")["random_masking"]

    def masking_on_mps(*args, **kwargs):
        return on_mps(random_masking(*args, **kwargs))

    ok, out = _run(nb05.check_random_masking, masking_on_mps, capsys)
    assert ok and out.startswith("[PASS] random_masking"), out


def test_a_float32_output_on_mps_is_compared_with_the_stored_float64_values():
    case = {"expected": torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), "atol": 1e-6, "label": "three numbers",
            "mistakes": [{"value": torch.tensor([2.0, 4.0, 6.0], dtype=torch.float64), "atol": 1e-6,
                          "hint": "doubled"}]}
    err = checks.expect_close(on_mps(torch.tensor([1.0, 2.0, 3.0 + 2**-22])), case)
    assert err == 2**-22  # the float32 value's distance from the float64 one, exactly
    with pytest.raises(checks.Mistake, match="known mistake: doubled"):
        checks.expect_close(on_mps(torch.tensor([2.0, 4.0, 6.0])), case)
    with pytest.raises(checks.Mistake, match="largest error 1 "):
        checks.expect_close(on_mps(torch.tensor([1.0, 2.0, 4.0])), case)


def test_stored_value_properties_read_tensors_from_mps():
    from course_utils.tolerances import _flat

    value = {"acc": on_mps(torch.tensor([0.5, 0.25])), "loss": [1.0, 2.0], "n": 3}
    assert _flat(value, "*") == [0.5, 0.25, 1.0, 2.0, 3.0]
    assert _flat(value, "acc") == [0.5, 0.25]


# ----------------------------------------------------------------------------- the source
# float64 conversions of a tensor that the code itself made on the CPU: (module, the call as ast.unparse writes it)
MADE_ON_THE_CPU = {
    # check_random_masking's mask as it must be: torch.zeros and torch.ones, made on the CPU
    ("checks/nb05.py", "torch.cat([torch.zeros(n, keep), torch.ones(n, L - keep)], 1).double()"),
}


def _receiver_chain(node):
    """The expressions a method call is made on: for ``a.b(c)[0].double()`` the calls ``.b(c)``, ... down to ``a``."""
    while True:
        if isinstance(node, ast.Call):
            yield node
            node = node.func
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        else:
            yield node
            return


def _is_float64(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ("float64", "double", "DoubleTensor")


def _moved_to_cpu(receiver) -> bool:
    for call in _receiver_chain(receiver):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
            if call.func.attr == "cpu":
                return True
            if call.func.attr == "to" and any(isinstance(a, ast.Constant) and a.value == "cpu"
                                              for a in [*call.args, *(k.value for k in call.keywords)]):
                return True
    return False


def _enclosing_functions(tree) -> dict[int, str]:
    """The name of the innermost ``def`` around each node (``<module>`` outside any)."""
    names = {}

    def visit(node, name):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else name
            names[id(child)] = inner
            visit(child, inner)

    visit(tree, "<module>")
    return names


def float64_on_a_device(package: Path = PACKAGE) -> list[tuple[str, str, int, str]]:
    """``(module, function, line, code)`` of every ``x.double()``, ``x.to(torch.float64)``, ``x.type(torch.double)``
    whose ``x`` was not moved to the CPU in the same expression, and of every call with a float64 dtype and a device
    other than ``"cpu"``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        functions = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func, bad = node.func, False
            if isinstance(func, ast.Attribute):
                if func.attr == "double" and not node.args:
                    bad = not _moved_to_cpu(func.value)
                elif func.attr in ("to", "type") and any(_is_float64(a) for a in
                                                         [*node.args, *(k.value for k in node.keywords)]):
                    bad = not _moved_to_cpu(func.value)
            kw = {k.arg: k.value for k in node.keywords}
            if _is_float64(kw.get("dtype")) and "device" in kw:
                bad = bad or not (isinstance(kw["device"], ast.Constant) and kw["device"].value == "cpu")
            if bad:
                found.append((path.relative_to(package).as_posix(), functions[id(node)], node.lineno,
                              ast.unparse(node)))
    return sorted(found)


def test_the_scan_finds_float64_conversions_that_are_not_on_the_cpu(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch\n"
        "def acc(p, y):\n"
        "    a = (p == y).double().mean()\n"                       # found
        "    b = (p == y).cpu().double().mean()\n"                 # on the CPU
        "    c = p.to(torch.float64)\n"                            # found
        "    d = p.detach().to('cpu').to(dtype=torch.float64)\n"    # on the CPU
        "    e = torch.zeros(3, dtype=torch.float64, device=p.device)\n"  # found
        "    f = torch.zeros(3, dtype=torch.float64)\n"             # the CPU by default
        "    g = p.cpu().sum() + p.type(torch.double)\n"           # found: the .cpu() is on another expression
        "    return a, b, c, d, e, f, g\n")
    found = float64_on_a_device(tmp_path)
    assert [(m, fn, line) for m, fn, line, _ in found] == [
        ("m.py", "acc", 3), ("m.py", "acc", 5), ("m.py", "acc", 7), ("m.py", "acc", 9)]


def test_course_utils_turns_no_tensor_into_float64_unless_it_is_on_the_cpu():
    found = [f for f in float64_on_a_device() if (f[0], f[3]) not in MADE_ON_THE_CPU]
    assert not found, (
        "float64 on a tensor that may live on the notebook's device (Apple's MPS has no float64); move it to the "
        "CPU first (x.cpu().double()), count in Python (hits.sum().item() / hits.numel()), or, for a tensor the "
        "function made on the CPU itself, add it to MADE_ON_THE_CPU:\n"
        + "\n".join(f"  {m}:{line} in {fn}(): {code}" for m, fn, line, code in found))
    still_there = {(f[0], f[3]) for f in float64_on_a_device()}
    gone = MADE_ON_THE_CPU - still_there
    assert not gone, f"MADE_ON_THE_CPU lists places that are gone (remove them): {gone}"


def _default_device_follows_the_context() -> bool:
    with torch.device("meta"):
        return torch.get_default_device().type == "meta"


@pytest.mark.skipif(not _default_device_follows_the_context(),
                    reason="this torch's get_default_device ignores a `with torch.device(...)` context")
def test_mae_position_embeddings_are_made_in_float64_on_the_cpu_and_land_on_the_default_device():
    from course_utils.mae import sincos_pos_embed

    pe = sincos_pos_embed(16, 7)
    assert pe.dtype == torch.float32 and pe.device.type == "cpu" and pe.shape == (49, 16)
    # the same numbers as the formula in float64, rounded once to float32
    pos = torch.arange(7, dtype=torch.float64)
    omega = 1.0 / 10000 ** (torch.arange(4, dtype=torch.float64) / 4)
    gy, gx = torch.meshgrid(pos, pos, indexing="ij")
    axis = [torch.cat([(g.reshape(-1, 1) * omega).sin(), (g.reshape(-1, 1) * omega).cos()], 1) for g in (gy, gx)]
    assert torch.equal(pe, torch.cat(axis, 1).float())
    with torch.device("meta"):  # a notebook that builds its models under `with torch.device(course.device)`
        assert sincos_pos_embed(16, 7).device.type == "meta"
