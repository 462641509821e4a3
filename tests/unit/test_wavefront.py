"""The backbone's chunk wavefront and the spatial order that keeps its geometry small."""

import numpy as np
import pytest
import torch

from md_orderml.neighbors import radius_graph
from md_orderml.nn.backbone import EquivariantBackbone, chunk_order, ready_after
from md_orderml.nn.convolution import padded_neighbors
from md_orderml.spatial_order import folded_slab_rank, spatial_order


def gas(n, density=0.9, seed=0):
    rng = np.random.default_rng(seed)
    length = (n / density) ** (1 / 3)
    return torch.as_tensor(rng.uniform(0, length, (n, 3))), torch.eye(3, dtype=torch.float64) * length


@pytest.mark.parametrize("n_slabs", [1, 2, 3, 4, 7, 10])
def test_folded_slabs_put_periodic_neighbours_close(n_slabs):
    slab = torch.arange(n_slabs)
    rank = folded_slab_rank(slab, n_slabs)
    assert sorted(rank.tolist()) == list(range(n_slabs))
    following = rank[(slab + 1) % n_slabs]
    assert int((rank - following).abs().max()) <= 2


def test_spatial_order_keeps_neighbours_close_across_the_periodic_boundary():
    x, cell = gas(6000, seed=1)
    pbc = torch.ones(3, dtype=torch.bool)
    x = x[torch.randperm(len(x))]
    order = spatial_order(x, cell, pbc, 1.6)
    assert sorted(order.tolist()) == list(range(len(x)))
    sorted_x = x[order]
    edge_index, _ = radius_graph(sorted_x, cell, pbc, 1.6)
    spread = int((edge_index[0] - edge_index[1]).abs().max())
    # 11 slabs: neighbours at most two slabs apart in the folded order (about 3/11 of N)
    assert spread < 0.35 * len(x)
    edge_index, _ = radius_graph(x, cell, pbc, 1.6)  # a random order spreads over everything
    assert int((edge_index[0] - edge_index[1]).abs().max()) > 0.9 * len(x)


def test_spatial_order_of_open_and_planar_systems():
    x, _ = gas(500, seed=2)
    order = spatial_order(x, torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, dtype=torch.bool), 1.5)
    assert sorted(order.tolist()) == list(range(500))
    flat = x.clone()
    flat[:, 2] = 0.0
    cell = torch.diag(torch.tensor([8.0, 8.0, 0.0], dtype=torch.float64))
    order = spatial_order(flat, cell, torch.tensor([True, True, False]), 1.5)
    assert sorted(order.tolist()) == list(range(500))
    bad = x.clone()
    bad[7, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        spatial_order(bad, torch.eye(3, dtype=torch.float64) * 9, torch.ones(3, dtype=torch.bool), 1.5)


def test_ready_after_covers_every_neighbour():
    x, cell = gas(3000, seed=3)
    x = x[spatial_order(x, cell, torch.ones(3, dtype=torch.bool), 1.6)]
    edge_index, edge_vec = radius_graph(x.float(), cell.float(), torch.ones(3, dtype=torch.bool), 1.6)
    neighbor, _, counts = padded_neighbors(len(x), edge_index, edge_vec, 3.2)
    order = chunk_order(counts, 64, 4)
    assert sorted(order.tolist()) == list(range(len(x)))
    ready = ready_after(neighbor, order, 64)
    chunk_of = torch.empty_like(order)
    chunk_of[order] = torch.arange(len(x)) // 64
    centre_chunk = chunk_of[edge_index[0]]
    neighbour_chunk = chunk_of[edge_index[1]]
    assert bool((neighbour_chunk <= torch.tensor(ready)[centre_chunk]).all())
    assert all(r >= c for c, r in enumerate(ready)) and ready == sorted(ready)
    assert max(r - c for c, r in enumerate(ready)) < 0.5 * len(ready)  # a wavefront, not all at once


@pytest.mark.parametrize("budget", [0, 200_000, 1 << 40])
def test_embedding_does_not_depend_on_chunks_blocks_or_geometry_budget(budget):
    torch.manual_seed(5)
    x, cell = gas(1500, seed=4)
    x = x[spatial_order(x, cell, torch.ones(3, dtype=torch.bool), 1.6)]
    edge_index, edge_vec = radius_graph(x.float(), cell.float(), torch.ones(3, dtype=torch.bool), 1.6)
    config = {"n_layers": 3}
    small = EquivariantBackbone(1.6, config, chunk=32).eval()
    small.block_chunks = 3
    small.geometry_cache_bytes = budget
    whole = EquivariantBackbone(1.6, config, chunk=100000).eval()
    whole.load_state_dict(small.state_dict())
    types = torch.zeros(len(x), dtype=torch.long)
    with torch.no_grad():
        a = small(types, edge_index, edge_vec)
        b = whole(types, edge_index, edge_vec)
        c = torch.jit.script(small)(types, edge_index, edge_vec)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(c, a, rtol=1e-5, atol=1e-5)
