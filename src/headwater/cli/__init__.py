"""Command lines: ``python flow.py ...`` (flow_cli) and ``headwater ...`` (main)."""
