"""``headwater service``: the team metadata service, the run records of every machine in one
PostgreSQL, behind a small HTTP API (``app.py``) that also serves the UI (``server.py`` starts
it). Clients speak to it through ``headwater.metadata.service_client``."""
