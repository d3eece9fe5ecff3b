"""Settings, layered: these defaults < instance/config.py < KG_* environment variables < test mapping."""
from __future__ import annotations

DEFAULTS = {
    # where the graph lives: a directory (embedded pyoxigraph) or an http(s) SPARQL endpoint URL.
    # The store parses its own settings, KG_STORE_* (it imports no Flask), with their defaults: an
    # embedded store of up to KG_STORE_MEMORY_QUADS quads (default 100,000; 0 never) is served from a
    # copy in memory per worker (kg_service/store/embedded.py); a remote one's are in store/remote.py.
    # They are layered like the rest (a config file, the environment, a test's mapping): the served
    # store is opened with the app's (`store_environ`)
    "KG_STORE": "var/store",
    # seconds a query may run before it is cut (SPARQL endpoint and API)
    "KG_QUERY_TIMEOUT": 10.0,
    # longest SPARQL query text accepted, bytes (GET URLs and POST bodies)
    "KG_MAX_QUERY_BYTES": 1_000_000,
    # most terms, operators and keywords in one SPARQL query or update (rows of VALUES and DATA
    # blocks not counted), 400 above it: pyoxigraph crashes on long flat constructs from ~2,600
    # elements (benchmarks/crash_sizes.py); the largest shipped query has ~260 (SECURITY.md)
    "KG_MAX_QUERY_COMPLEXITY": 2000,
    # most result rows returned by /sparql before the answer is cut and flagged
    "KG_RESULT_ROW_CAP": 100_000,
    # answers cached per graph version; 0 turns the cache off
    "KG_CACHE_ENTRIES": 4096,
    # how often (s) a worker checks whether a build swapped the served store
    "KG_REFRESH_INTERVAL": 1.0,
    # rebuild automatically when serving finds no store
    "KG_BUILD_IF_MISSING": True,
    # rebuild when serving finds a corrupt store (off: `serve` stops with a one-line error instead)
    "KG_REBUILD_IF_CORRUPT": False,
    # -- denial-of-service limits (kg_service/limits.py; SECURITY.md) --------------------------
    # store queries running at once per worker process; more wait up to KG_QUERY_QUEUE_SECONDS,
    # then are answered 503 with Retry-After (cached answers and /health never wait)
    "KG_MAX_CONCURRENT_QUERIES": 2,
    "KG_QUERY_QUEUE_SECONDS": 2.0,
    # the Retry-After (s) of a 503 for a busy server
    "KG_RETRY_AFTER": 2,
    # niceness (0-19) of the threads that evaluate store queries: long queries then use only the CPU
    # that request threads leave idle (Linux; 0 turns it off)
    "KG_QUERY_NICE": 10,
    # largest request body accepted on any route, bytes (413 problem+json above it)
    "KG_MAX_BODY_BYTES": 4_000_000,
    # longest request target (path and query string) on any route, bytes (414 problem+json above it);
    # at most 65,000, below the HTTP server's own 65,534 (kg_service/front.py); longer SPARQL queries
    # go by POST
    "KG_MAX_URL_BYTES": 65_000,
    # seconds a client has to send its request head and its whole body (408 otherwise); a stalled
    # upload holds no request thread and no query slot meanwhile (kg_service/front.py)
    "KG_REQUEST_READ_TIMEOUT": 10.0,
    # requests per second per client address (token bucket per worker); 0 turns the limit off
    "KG_RATE_LIMIT": 50.0,
    # requests a client may send at once above the rate
    "KG_RATE_LIMIT_BURST": 100,
    # also limit loopback clients (127.0.0.1, ::1); off by default (local tools, a reverse proxy)
    "KG_RATE_LIMIT_LOOPBACK": False,
    # -- request log (kg_service/request_log.py) -------------------------------------------------
    # one JSON line per request: "stderr", "stdout", a file path, or "off"
    "KG_REQUEST_LOG": "stderr",
    # key of the query hashes in the log (unset: a random key per `serve`, shared by its workers)
    "KG_LOG_HASH_KEY": "",
    # -- curator writes (kg_service/curator/; off unless a token is set) -------------------------
    # bearer token for /curator/* (SPARQL Update and Graph Store Protocol on the curator graph)
    "KG_CURATOR_TOKEN": "",
    # who the token stands for, recorded in the audit log
    "KG_CURATOR_NAME": "curator",
    # largest update or graph body accepted by /curator, bytes
    "KG_CURATOR_MAX_BYTES": 1_000_000,
}

#: settings read from the environment as given (never decoded as JSON)
STRING_SETTINGS = ("KG_STORE", "KG_REQUEST_LOG", "KG_LOG_HASH_KEY", "KG_CURATOR_TOKEN", "KG_CURATOR_NAME",
                   "KG_STORE_UPDATE_URL", "KG_STORE_GSP_URL", "KG_STORE_GSP_GRAPH_PARAM", "KG_STORE_USER",
                   "KG_STORE_PASSWORD", "KG_STORE_AUTH")
#: the store's own settings start with this (kg_service.store parses them; see `store_environ`)
STORE_PREFIX = "KG_STORE_"
#: settings never shown in logs, errors or /health
SECRET_SETTINGS = ("KG_CURATOR_TOKEN", "KG_LOG_HASH_KEY", "KG_STORE_PASSWORD")


def load(app, test_config: dict | None) -> None:
    """Apply the layers onto `app.config` in order."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("KG", loads=_loads)
    # from_prefixed_env strips the prefix; keep our names with it as well (the store's own too)
    import os
    for key in [*DEFAULTS, *(name for name in os.environ if name.startswith(STORE_PREFIX))]:
        short = key[len("KG_"):]
        if short in app.config:
            app.config[key] = app.config.pop(short)
    # text settings stay text even when they happen to parse as JSON (a token "12345", a path "1")
    for key in STRING_SETTINGS:
        if key in os.environ:
            app.config[key] = os.environ[key]
    if test_config:
        app.config.update(test_config)


def flag(value) -> bool:
    """A yes/no setting, read one way wherever it comes from (JSON from the environment, a config
    file, a test): "1", "true", "yes", "on" (any case) and true values are yes; anything else is no.

    >>> [flag(v) for v in (True, 1, "true", "Yes", " on ", False, 0, "false", "no", "off", "", None)]
    [True, True, True, True, True, False, False, False, False, False, False, False]
    """
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def store_environ(settings) -> dict[str, str]:
    """The store's own settings (KG_STORE_*, KG_STORE itself aside) among an app's `settings`, as the
    text the store parses: what the served store is opened with, so they are layered like the rest.

    >>> store_environ({"KG_STORE": "var/store", "KG_STORE_RETRIES": 0, "KG_STORE_USER": "u", "KG_QUERY_TIMEOUT": 5})
    {'KG_STORE_RETRIES': '0', 'KG_STORE_USER': 'u'}
    """
    return {key: str(value) for key, value in settings.items()
            if key.startswith(STORE_PREFIX) and value is not None}


def _loads(value: str):
    """Environment values: JSON when they parse as JSON (numbers, booleans), else the string."""
    import json
    try:
        return json.loads(value)
    except ValueError:
        return value


def read(overrides: dict | None = None) -> dict:
    """The settings as an app would see them, for commands that run without one (`serve`'s checks).

    >>> read({"KG_STORE": "elsewhere"})["KG_STORE"], read()["KG_BUILD_IF_MISSING"] in (True, False)
    ('elsewhere', True)
    """
    from flask import Flask
    app = Flask("kg_service", instance_relative_config=True)
    load(app, overrides)
    return dict(app.config)
