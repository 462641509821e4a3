"""The neighbour average of the embedding (inside the model file): brute force, chunking, TorchScript."""

import numpy as np
import torch

from md_orderml.nn.neighbour_rules import neighbour_average


def random_graph(n=60, degree=9, dim=5, seed=0):
    """Random bonds (unsorted centres) with lengths in (0.2, 2), an embedding (n, dim)."""
    gen = torch.Generator().manual_seed(seed)
    centre = torch.randint(0, n, (n * degree,), generator=gen)
    neighbour = torch.randint(0, n, (n * degree,), generator=gen)
    direction = torch.nn.functional.normalize(torch.randn(n * degree, 3, generator=gen), dim=1)
    length = 0.2 + 1.8 * torch.rand(n * degree, 1, generator=gen)
    return torch.randn(n, dim, generator=gen), torch.stack([centre, neighbour]), direction * length


def brute_force(embedding, edge_index, edge_vec, radius, taper):
    """Per node: (own embedding + sum of weighted neighbours) / (1 + sum of weights), in float64."""
    emb = embedding.double().numpy()
    total, count = emb.copy(), np.ones(len(emb))
    for (i, j), r in zip(edge_index.T.tolist(), torch.linalg.norm(edge_vec, dim=1).double().tolist()):
        if r >= radius:
            continue
        w = 1.0 if r <= radius - taper else 0.5 * (1.0 + np.cos(np.pi * (r - (radius - taper)) / taper))
        total[i] += w * emb[j]
        count[i] += w
    return total / count[:, None]


def test_average_equals_brute_force():
    embedding, edge_index, edge_vec = random_graph()
    out = neighbour_average(embedding, edge_index, edge_vec, 1.5, 0.5)
    np.testing.assert_allclose(out.double().numpy(), brute_force(embedding, edge_index, edge_vec, 1.5, 0.5),
                               rtol=1e-5, atol=1e-6)


def test_chunk_size_changes_nothing_eager_or_scripted():
    embedding, edge_index, edge_vec = random_graph(n=200, degree=13, dim=7, seed=1)
    reference = neighbour_average(embedding, edge_index, edge_vec, 1.4, 0.3, chunk=1 << 30)
    scripted = torch.jit.script(neighbour_average)
    for chunk in (1, 7, 64, 8192):
        assert torch.equal(neighbour_average(embedding, edge_index, edge_vec, 1.4, 0.3, chunk=chunk), reference)
        assert torch.equal(scripted(embedding, edge_index, edge_vec, 1.4, 0.3, chunk), reference)


def test_no_bonds_within_radius_leaves_the_embedding():
    embedding, edge_index, edge_vec = random_graph()
    assert torch.equal(neighbour_average(embedding, edge_index, edge_vec * 10.0, 1.5, 0.5), embedding)
