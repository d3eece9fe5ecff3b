"""One curator write that stops at a chosen step, for the crash tests:
`python curator_runner.py STORE STEP VALUE` inserts "VALUE" as a note in the curators' graph; at STEP
(copied, applied, before-audit, audited, before-swap, swapped, committed) it prints ``PAUSED STEP`` and
sleeps so the test can SIGKILL it; with STEP ``none`` it runs through and prints ``ACK <id>`` once the
write is acknowledged (apply_write returned)."""
from __future__ import annotations

import sys
import time


def main(store: str, step: str, value: str) -> int:
    from kg_service.curator import storage

    def hook(at: str) -> None:
        if at == step:
            print("PAUSED %s" % at, flush=True)
            time.sleep(3600)

    text = 'INSERT DATA { GRAPH <%s> { <urn:amlkg-test:s> <urn:amlkg-test:note> "%s" } }' % (storage.CURATOR_GRAPH, value)
    record = storage.apply_write(store, storage.sparql_update(text), operation="update", who="runner",
                                 client=None, what=text, hook=hook)
    print("ACK %s" % record["id"], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
