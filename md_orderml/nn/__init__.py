"""Equivariant building blocks and models: harmonics, radial bases, convolutions, backbones, heads."""
