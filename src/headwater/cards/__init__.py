"""Cards: reports a step builds with a few lines of Python, stored as self-contained HTML."""
