"""The international office's portfolio: search, dashboard and reports, bulk import, list monitoring.

Library modules free of Flask and the database (the web app, the CLI, the Celery tasks and the
tests all use them): ``import_columns``, ``import_validation`` and ``import_parsing`` (the bulk
import: template, row checks, untrusted uploads), ``exports`` (CSV and XLSX writers that
neutralise spreadsheet formulas) and ``charts`` (server-side SVG bar charts with small-number
suppression).
"""
