"""One graph-store interface over several backends (embedded pyoxigraph, remote SPARQL 1.1 server).

The backend is chosen by the store location: a filesystem path opens the embedded store, an
``http(s)://`` URL a remote SPARQL server. Callers never see which one they got.
"""
from .base import (Store, StoreError, QueryTimeout, StoreUnavailable, Overloaded, QuerySyntaxError,
                   QueryUnsupported, UnsupportedFormat, DatasetMissing, GRAPH_BASE, META_GRAPH)
from .binding import bind_values, term_to_sparql, BindingError


def open_store(location: str, *, read_only: bool = True, **options) -> Store:
    """Open the store at `location` (a path or an http(s) URL); read-only unless building.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     s = open_store(os.path.join(d, "store"), read_only=False)
    ...     s.triple_count()
    0
    """
    if location.startswith(("http://", "https://")):
        from .remote import RemoteStore
        return RemoteStore(location, read_only=read_only, **options)
    from .embedded import EmbeddedStore
    return EmbeddedStore(location, read_only=read_only, **options)


__all__ = ["Store", "StoreError", "QueryTimeout", "StoreUnavailable", "Overloaded", "QuerySyntaxError",
           "QueryUnsupported", "UnsupportedFormat", "DatasetMissing",
           "open_store", "bind_values", "term_to_sparql", "BindingError", "GRAPH_BASE", "META_GRAPH"]
