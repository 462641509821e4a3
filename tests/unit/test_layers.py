"""The equivariant building blocks: sparse Clebsch–Gordan invariants, the layer, chunking."""

import pytest
import torch
from e3nn import o3

from md_orderml.nn.backbone import EquivariantBackbone
from md_orderml.nn.clebsch_gordan import cubic_invariant_table
from md_orderml.nn.harmonics import PolynomialHarmonics


def _dense_cubic(a: torch.Tensor, l: int) -> torch.Tensor:
    return (2 * l + 1) ** 0.5 * torch.einsum("ijk,i,j,k->", o3.wigner_3j(l, l, l, dtype=torch.float64), a, a, a)


def test_sparse_cubic_equals_dense_and_is_invariant():
    torch.manual_seed(0)
    degrees = [2, 4, 6]
    index, weight = cubic_invariant_table(degrees)
    assert index.shape[0] == 3 and weight.shape == (3, index.shape[1])
    vectors = [torch.randn(2 * l + 1, dtype=torch.float64) for l in degrees]
    rotation = o3.rand_matrix(dtype=torch.float64)
    assert weight.dtype == torch.float64
    for rotate in (False, True):
        parts = [o3.Irrep(l, 1).D_from_matrix(rotation) @ v if rotate else v for l, v in zip(degrees, vectors)]
        stacked = torch.cat(parts)
        sparse = weight @ (stacked[index[0]] * stacked[index[1]] * stacked[index[2]])
        dense = torch.stack([_dense_cubic(v, l) for l, v in zip(degrees, vectors)])
        # e3nn's 3j symbols are float32-accurate: invariance holds to ~1e-5 of the O(1) terms
        torch.testing.assert_close(sparse, dense, rtol=1e-5, atol=5e-5)
    # sparse: far fewer products than the dense symbols have entries
    assert index.shape[1] < sum((2 * l + 1) ** 3 for l in degrees) // 10


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_polynomial_harmonics_equal_e3nn(dtype):
    torch.manual_seed(3)
    vec = torch.randn(500, 3, dtype=dtype) * torch.rand(500, 1, dtype=dtype) * 4
    vec[0] = torch.tensor([0.0, 0.0, 2.5])  # poles and axes
    vec[1] = torch.tensor([-1e-3, 0.0, 0.0])
    ours = PolynomialHarmonics(6).to(dtype)(vec)
    reference = o3.spherical_harmonics(list(range(7)), vec, normalize=True, normalization="component")
    assert ours.shape == (49, 500) and ours.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(ours.t(), reference, rtol=tol, atol=tol)
    # not in the state dict: checkpoints of the e3nn-based geometry load unchanged
    assert list(PolynomialHarmonics(6).state_dict()) == []


def test_odd_degree_rejected():
    with pytest.raises(ValueError, match="even"):
        cubic_invariant_table([3])


def test_chunking_does_not_change_embedding():
    torch.manual_seed(1)
    n = 300
    positions = torch.rand(n, 3) * 6.0
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    vec = positions[j] - positions[i]
    close = (vec.norm(dim=-1) < 1.6) & (i != j)
    edge_index = torch.stack([i[close], j[close]])
    small = EquivariantBackbone(1.6, {}, chunk=7).eval()
    whole = EquivariantBackbone(1.6, {}, chunk=100000).eval()
    whole.load_state_dict(small.state_dict())
    with torch.no_grad():
        a = small(torch.zeros(n, dtype=torch.long), edge_index, vec[close])
        b = whole(torch.zeros(n, dtype=torch.long), edge_index, vec[close])
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_layer_invariants_rotate_with_e3nn():
    torch.manual_seed(2)
    n = 40
    positions = torch.randn(n, 3) * 1.2
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    backbone = EquivariantBackbone(1.6, {}).eval()

    def embed(x):
        vec = x[j] - x[i]
        close = (vec.norm(dim=-1) < 1.6) & (i != j)
        return backbone(torch.zeros(n, dtype=torch.long), torch.stack([i[close], j[close]]), vec[close])

    rotation = o3.rand_matrix()
    with torch.no_grad():
        torch.testing.assert_close(embed(positions @ rotation.T), embed(positions), rtol=1e-4, atol=1e-4)
