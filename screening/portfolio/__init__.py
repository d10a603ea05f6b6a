"""Portfolio building blocks for the international office, free of Flask and the database.

- ``importing``: the bulk-import template and ``parse_upload`` (CSV/XLSX to validated proposals,
  all or nothing).
- ``exports``: CSV and XLSX writers that neutralise spreadsheet formulas.
- ``charts``: server-side SVG bar charts with small-number suppression.
"""
