"""Report: records -> one DataFrame (``frame``) -> tables (md/csv/tex, significance) and plots.

``frame`` is the only place records are read into rows and cells; ``tables`` builds a paper-style table from
it, ``render`` / ``render_tuning`` / ``cost_table`` write it, ``plots`` draws it, ``markdown`` is the one
markdown writer, ``stats`` the significance test. Reads records alone: may import ``bca.run.records`` (the
format), ``bca.paper`` (published numbers, the tune protocol) and ``bca.methods`` (row labels); never the
runner, the fit loop or Hydra.
"""
