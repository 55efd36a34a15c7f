"""The graph model and its DOT: torch's own names and edges, stable ids, golden files."""

import os
from pathlib import Path

import pytest
import torch

import autoviz
from autoviz.autograd.graph import display_name

GOLDEN = Path(__file__).parent / "golden"

PROGRAMS = {
    "scalar": """import torch
a = torch.tensor([3.], requires_grad=True)
O = 5*a**2
""",
    "seed_network": """import torch
torch.manual_seed(0)
x = torch.ones(3)  # input tensor
w = torch.randn(3, 2, requires_grad=True)
b = torch.randn(2, requires_grad=True)
z = torch.matmul(x, w)+b
y = torch.zeros(2) # Output
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
""",
    "fan_in": """import torch
a = torch.tensor(2., requires_grad=True)
b = torch.tensor(3., requires_grad=True)
c = a * b
d = c + a
e = d * c
""",
    "detach": """import torch
w = torch.tensor([1., 2.], requires_grad=True)
h = (w * 3).detach()
out = (h * w).sum()
""",
}
ROOTS = {"scalar": "O", "seed_network": "loss", "fan_in": "e", "detach": "out"}


def _graph(key, saved=False):
    program = autoviz.run_program(PROGRAMS[key])
    root = program.namespace[ROOTS[key]]
    return autoviz.extract_graph(root, catalog=program.catalog, saved=saved), program


@pytest.mark.parametrize("key", sorted(PROGRAMS))
def test_dot_matches_golden_file(key):
    dot = autoviz.to_dot(_graph(key)[0])
    path = GOLDEN / f"{key}.dot"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(dot)
    assert dot == path.read_text()


@pytest.mark.parametrize("key", sorted(PROGRAMS))
def test_same_program_gives_byte_identical_dot(key):
    assert autoviz.to_dot(_graph(key)[0]) == autoviz.to_dot(_graph(key)[0])


def _native_walk(root):
    """Breadth-first over next_functions, as torch exposes them."""
    order, seen, queue = [], set(), [root.grad_fn]
    seen.add(root.grad_fn)
    while queue:
        node = queue.pop(0)
        order.append(node)
        for child, _ in node.next_functions:
            if child is not None and child not in seen:
                seen.add(child)
                queue.append(child)
    return order


@pytest.mark.parametrize("key", sorted(PROGRAMS))
def test_nodes_and_edges_are_torchs_own(key):
    graph, program = _graph(key)
    root = program.namespace[ROOTS[key]]
    native = _native_walk(root)
    real = [n for n in graph.nodes if n.kind != "none"]
    assert [n.torch_name for n in real] == [n.name() for n in native]
    assert [n.name for n in real] == [display_name(n) for n in native]
    ids = {node: graph_node.id for node, graph_node in zip(native, real)}
    expected = []
    for node in native:
        for index, (child, output_nr) in enumerate(node.next_functions):
            expected.append((ids[node], None if child is None else ids[child], index, output_nr))
    got = [(e.src, None if graph.node(e.dst).kind == "none" else e.dst, e.index, e.output_nr)
           for e in graph.edges]
    assert got == expected


def test_none_inputs_are_shown_not_dropped():
    graph, _ = _graph("scalar")
    mul = graph.node(graph.roots[0])
    assert mul.name == "MulBackward0"
    targets = [graph.node(e.dst) for e in graph.edges if e.src == mul.id]
    assert [t.kind for t in targets] == ["function", "none"]  # (PowBackward0, 0), (None, 0)


def test_names_values_and_leaf_badges():
    graph, program = _graph("scalar")
    mul = graph.node(graph.roots[0])
    assert mul.tensor.name == "O" and mul.tensor.value == "[45.]" and mul.tensor.expr == "5*a**2"
    pow_node = graph.node("n1")
    assert pow_node.tensor.name is None and pow_node.tensor.expr == "a**2"
    (leaf,) = graph.leaves()
    assert leaf.name == "AccumulateGrad" and leaf.torch_name == "torch::autograd::AccumulateGrad"
    assert leaf.tensor.name == "a" and leaf.tensor.is_leaf and leaf.tensor.requires_grad
    assert leaf.tensor.grad is None and leaf.tensor.shape == (1,)
    program.namespace["O"].backward()
    (leaf,) = autoviz.extract_graph(program.namespace["O"], catalog=program.catalog).leaves()
    assert leaf.tensor.grad == "[30.]"


def test_saved_tensors_are_marked_freed_after_backward():
    a = torch.tensor([3.0], requires_grad=True)
    out = 5 * a**2
    before = autoviz.extract_graph(out, names={"a": a}, saved=True)
    pow_saved = {s.attr: s for s in before.node("n1").saved}
    assert pow_saved["_saved_self"].value == "[3.]" and not pow_saved["_saved_self"].freed
    assert pow_saved["_saved_exponent"].value == "2"
    out.backward()
    after = autoviz.extract_graph(out, names={"a": a}, saved=True)
    pow_saved = {s.attr: s for s in after.node("n1").saved}
    assert pow_saved["_saved_self"].freed
    assert "(freed)" in autoviz.to_dot(after)


def test_detached_input_is_cut_from_the_graph():
    graph, _ = _graph("detach")
    names = [n.name for n in graph.nodes]
    assert names.count("AccumulateGrad") == 1  # only w; h has no history
    assert "MulBackward0" in names


def _free_front_to_back(root):
    """Free a deep chain one node at a time. Once Python has touched its nodes, torch frees a
    chain this deep recursively and overflows the C stack (torch's bug, not autoviz's)."""
    keep, node = [], root.grad_fn
    while node is not None:
        keep.append(node)
        nexts = [n for n, _ in node.next_functions if n is not None]
        node = nexts[0] if nexts else None
    return keep


def test_hundred_thousand_node_chain_is_walked_iteratively():
    x = torch.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    graph = autoviz.extract_graph(y)
    # MulBackward0 per op, each with a (None, 0) input for the constant, and the leaf
    assert len(graph.nodes) == 200_001
    assert [n.kind for n in graph.nodes[-2:]] == ["leaf", "none"]
    assert graph.node("n199999").path.count(".next_functions") == 100_000
    assert len(autoviz.draw(y).source) > 100_000
    keep = _free_front_to_back(y)
    del x, y
    for i in range(len(keep)):
        keep[i] = None


def test_draw_is_a_digraph_with_user_names():
    x = torch.ones(3)
    w = torch.ones(3, 2, requires_grad=True)
    loss = (x @ w).sum()
    dot = autoviz.draw(loss, names={"w": w, "loss": loss})
    import graphviz

    assert isinstance(dot, graphviz.Digraph)
    assert "AccumulateGrad" in dot.source and '"w\\nAccumulateGrad' in dot.source
    assert "SumBackward0" in dot.source and "loss" in dot.source
