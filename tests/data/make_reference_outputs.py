"""Write ``reference_outputs.npz``: the classic model's outputs on the test crystals and liquids.

Run once before a refactor (``python tests/data/make_reference_outputs.py``) and commit the
file; ``tests/unit/test_reference_outputs.py`` then requires labels to stay identical and
probabilities and confidences to stay within 1e-6. The frames themselves (box and
positions) are stored, so the check does not depend on the structure generators.
"""

from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("reference_outputs.npz")


def frames():
    """(name, Frame) pairs: six noisy rotated crystals, one coexistence frame, two LJ liquids."""
    from md_orderml import structures

    for kind in structures.CRYSTALS:
        yield f"{kind}_noisy", structures.crystal(kind, noise=0.07, min_width=6.0, rotation="random",
                                                  seed=7001).to_frame()
    yield "fcc_liquid_mixed", structures.mixed("fcc", crystal_fraction=0.5, seed=7002).to_frame()
    for density, temperature in [(0.84, 0.8), (0.9, 1.5)]:
        yield f"liquid_{density}_{temperature}", structures.liquid(n=400, density=density,
                                                                   temperature=temperature, seed=7003).to_frame()


def main():
    from md_orderml.analysis import OrderML

    model = OrderML("classic")
    record = {}
    for name, frame in frames():
        model.compute(frame)
        b = frame.box
        record[f"{name}/box"] = np.array([b.Lx, b.Ly, b.Lz, b.xy, b.xz, b.yz])
        record[f"{name}/origin"] = np.zeros(3) if b.origin is None else np.asarray(b.origin, dtype=float)
        record[f"{name}/positions"] = frame.positions
        record[f"{name}/label"] = model.labels
        record[f"{name}/confidence"] = model.confidence
        record[f"{name}/probabilities"] = model.probabilities
        print(name, frame.N, np.bincount(model.labels, minlength=len(model.class_names)))
    record["class_names"] = np.array(model.class_names)
    np.savez_compressed(OUT, **record)


if __name__ == "__main__":
    main()
