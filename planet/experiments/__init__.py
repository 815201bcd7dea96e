"""Experiment tooling, a wing of the package: the paper's run matrix, run state and progress, cost estimates,
the Ray launcher (scripts/sweep.py) and the runs-per-GPU probe. The agent at the core never imports it."""
