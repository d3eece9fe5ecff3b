"""Settings, layered: these defaults < instance/config.py < KG_* environment variables < test mapping."""
from __future__ import annotations

DEFAULTS = {
    # where the graph lives: a directory (embedded pyoxigraph) or an http(s) SPARQL endpoint URL
    "KG_STORE": "var/store",
    # seconds a query may run before it is cut (SPARQL endpoint and API)
    "KG_QUERY_TIMEOUT": 10.0,
    # longest SPARQL query text accepted, bytes (GET URLs and POST bodies)
    "KG_MAX_QUERY_BYTES": 1_000_000,
    # most result rows returned by /sparql before the answer is cut and flagged
    "KG_RESULT_ROW_CAP": 100_000,
    # answers cached per graph version; 0 turns the cache off
    "KG_CACHE_ENTRIES": 4096,
    # how often (s) a worker checks whether a build swapped the served store
    "KG_REFRESH_INTERVAL": 1.0,
    # rebuild automatically when serving finds no store
    "KG_BUILD_IF_MISSING": True,
}


def load(app, test_config: dict | None) -> None:
    """Apply the layers onto `app.config` in order."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("KG", loads=_loads)
    # from_prefixed_env strips the prefix; keep our names with it as well
    for key in list(DEFAULTS):
        short = key[len("KG_"):]
        if short in app.config:
            app.config[key] = app.config.pop(short)
    if test_config:
        app.config.update(test_config)


def _loads(value: str):
    """Environment values: JSON when they parse as JSON (numbers, booleans), else the string."""
    import json
    try:
        return json.loads(value)
    except ValueError:
        return value
