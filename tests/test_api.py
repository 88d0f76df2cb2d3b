"""The package's shape: the module map's layers, no import cycles, the public surface, lazy imports."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import escape_ntk as en

PKG = Path(en.__file__).parent


def _layers() -> dict[str, int]:
    """{module: layer} parsed from the module map in the package docstring."""
    layers = {}
    for line in en.__doc__.splitlines():
        m = re.match(r"\s+(\d+)\s+([a-z_, ]+?)\s{2,}", line + "  ")
        if m:
            for name in m.group(2).split(","):
                layers[name.strip()] = int(m.group(1))
    for line in en.__doc__.splitlines():              # continuation lines of a layer
        m = re.match(r"\s{7,}([a-z_]+(?:, [a-z_]+)+)\s*$", line)
        if m:
            prev = max(v for v in layers.values())
            for name in m.group(1).split(","):
                layers.setdefault(name.strip(), prev)
    return layers


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(package modules imported at the top level, package modules imported inside functions)."""
    tree = ast.parse(path.read_text())
    top, inner = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            (top if node in tree.body else inner).update(n.split(".")[0] for n in names)
    return top, inner


def test_module_map_covers_every_module_and_layers_hold():
    layers = _layers()
    modules = {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}
    assert modules == set(layers), (modules ^ set(layers))
    for mod in modules:
        top, inner = _imports(PKG / f"{mod}.py")
        assert not inner, f"{mod} imports {inner} inside a function"
        for dep in top:
            assert layers[dep] < layers[mod], f"{mod} (layer {layers[mod]}) imports {dep} ({layers[dep]})"


def test_public_surface():
    assert len(en.__all__) == len(set(en.__all__))
    for name in en.__all__:
        assert getattr(en, name) is not None, name
    assert {"symbolic", "experiments", "learning"} <= set(en.__all__)
    assert issubclass(en.LearningRateError, ValueError)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        en.nope


def test_import_is_lazy_about_sympy_and_pyplot():
    code = ("import sys, escape_ntk as en; print(*(m in sys.modules for m in ('sympy', "
            "'matplotlib', 'scipy.special', 'scipy.sparse.linalg'))); en.symbolic.z; "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"] * 4 + ["True"], out.stdout


def test_activation_argument_meaning_does_not_depend_on_the_parameter_name():
    g = torch.Generator().manual_seed(0)
    X = en.sample_sphere(6, 4, g)
    W, a = en.init_symmetric(8, 4, g)
    act = en.activation("tanh")
    K = en.ntk_gram(X, W, a, "tanh")
    assert torch.equal(en.ntk_gram(X, W, a, act), K)
    assert torch.equal(en.ntk_gram(X, W, a, dsigma=act.dsigma), K)
    assert torch.equal(en.ntk_gram(X, W, a, dsigma=act), K)          # an Activation means itself
    for bad in (torch.tanh, act.sigma, act.dsigma, lambda z: z):
        with pytest.raises(TypeError, match="raw callable"):
            en.ntk_gram(X, W, a, bad)
        with pytest.raises(TypeError, match="raw callable"):
            en.ntk_eigenvalues(bad, 4, 2)
    with pytest.raises(TypeError, match="once"):
        en.ntk_gram(X, W, a, act, dsigma=act.dsigma)
    with pytest.raises(ValueError, match="not dsigma"):
        en.ntk_trace(dsigma=act.sigma, d=4)
    assert en.ntk_trace(dsigma=act.dsigma, d=4) == en.ntk_trace(act, 4) == en.ntk_trace("tanh", 4)
