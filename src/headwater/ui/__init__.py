"""``headwater ui``: a read-only web UI over a datastore, served by Starlette and uvicorn.

Modules: ``app`` (routes and endpoints), ``server`` (binding, printing the URL, serving),
``security`` (path segment checks, token, Host check, content security policies), ``queries``
(the SQL behind pages), ``html`` (escaping and page pieces), ``views/`` (one module per page
kind), ``graph_svg`` and ``timeline`` (the run's drawings), ``previews`` (artifact values),
``logs`` (following a log by offset), ``cards`` (sandboxed card frames), ``static/`` (CSS, JS).

Starlette and uvicorn are core dependencies (small, pure Python), imported only when the UI
starts: ``import headwater`` and a run never load them.
"""
