"""Glassy liquids: Kob-Andersen data from LAMMPS, propensity regression and its baselines."""
