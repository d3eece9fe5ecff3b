"""Run a build that stops at a chosen point, for the SIGKILL tests: `python build_runner.py STORE POINT`.

At POINT the process prints ``PAUSED POINT`` and sleeps, so the test can kill it there with SIGKILL.
Points, in build order: ``checks`` (sources read and verified), ``loaded`` (a source loaded), ``shacl``,
``reasoned``, ``qc``, ``staged`` (the new version written and fsynced, not yet renamed), ``renamed``
(in versions/, `current` not yet swapped), ``swapping`` (the new link made, not yet renamed over
`current`), ``release`` (published; release files not yet written), or ``none`` (run to the end).
``full-disk`` does not pause: it lets the publish step write at most 64 KB per file (RLIMIT_FSIZE),
so RocksDB's writes fail part-way as on a full disk.
"""
from __future__ import annotations

import os
import sys
import time


def pause(point: str) -> None:
    print("PAUSED %s" % point, flush=True)
    time.sleep(3600)


def wrap(module, name: str, point: str, *, after: bool = False) -> None:
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        if not after:
            pause(point)
        result = original(*args, **kwargs)
        if after:
            pause(point)
        return result
    setattr(module, name, wrapped)


def main(store: str, point: str, release_dir: str | None = None) -> int:
    import loaders.build as build
    import loaders.ontology as ontology
    import loaders.reasoning as reasoning
    import kg_service.store.embedded as embedded
    if point == "checks":
        wrap(build, "verify_checksums", point, after=True)
    elif point == "loaded":
        wrap(ontology, "load", point, after=True)
    elif point == "shacl":
        wrap(build, "validate_shapes", point)
    elif point == "reasoned":
        wrap(reasoning, "infer", point, after=True)
    elif point == "qc":
        wrap(build, "run_qc", point)
    elif point == "staged":
        wrap(embedded, "write_manifest", point, after=True)
    elif point == "renamed":
        original = os.rename

        def rename(src, dst, *a, **k):
            original(src, dst, *a, **k)
            if ".staging-" in str(src):
                pause(point)
        os.rename = rename
    elif point == "swapping":
        original_replace = os.replace

        def replace(src, dst, *a, **k):
            if str(dst).endswith("current"):
                pause(point)
            return original_replace(src, dst, *a, **k)
        os.replace = replace
    elif point == "release":
        wrap(build, "write_release", point)
    elif point == "full-disk":
        import resource
        import signal
        publish = embedded.EmbeddedStore.publish

        def publish_on_a_full_disk(self, *args, **kwargs):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
            return publish(self, *args, **kwargs)
        embedded.EmbeddedStore.publish = publish_on_a_full_disk
    try:
        version = build.build(store, release_dir=release_dir, log=lambda line: print(line, flush=True))
    except build.BuildError as e:
        print("FAILED %s" % " ".join(str(e).split()), flush=True)
        return 1
    print("DONE %s" % version, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
