"""Reporting, a wing of the package: reading results/ (analysis), Table 1 and the figures (figures), reloading a
run for scores, open-loop strips and state probes (evaluation), and the generated tables of the docs (docs). The
agent at the core never imports it."""
