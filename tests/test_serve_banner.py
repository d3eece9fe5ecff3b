"""A newcomer's first minute: `serve` at a terminal says when it is ready, where, and the three entry
points in one short block; the JSON request log goes to a file (named in the block), not the terminal."""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, free_port


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out, deadline = b"", time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def test_serve_at_a_terminal_prints_one_ready_block_and_keeps_json_off_it(store_path):
    port = free_port()
    main, child = pty.openpty()  # stdout and stderr are a terminal, as for `make run`
    env = {k: v for k, v in os.environ.items() if k != "KG_REQUEST_LOG"}
    proc = subprocess.Popen([sys.executable, "-m", "kg_service", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--store", store_path, "--workers", "1"],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=child, stderr=child)
    os.close(child)
    try:
        shown = read_until(main, b"Not medical advice.", 60).decode("utf-8", "replace")
        url = "http://127.0.0.1:%d" % port
        assert "amlkg is ready at %s/" % url in shown, shown
        for path in ("/", "/sparql", "/api/docs"):
            assert "%s%s " % (url, path) in shown
        log_file = Path(store_path).parent / "log" / "requests.jsonl"
        assert str(log_file) in shown
        with urllib.request.urlopen(url + "/api/docs", timeout=5) as r:
            assert r.status == 200
        later = read_until(main, b"\x00never", 1.5).decode("utf-8", "replace")
        assert '{"event"' not in shown + later          # nothing for machines on the terminal
        block = shown[shown.index("amlkg is ready"):]
        assert len(block.strip().splitlines()) <= 6       # one short block
        deadline = time.monotonic() + 5
        records = []
        while time.monotonic() < deadline and not records:
            records = [json.loads(line) for line in log_file.read_text().splitlines()
                       if '"path":"/api/docs"' in line] if log_file.exists() else []
            time.sleep(0.1)
        assert records and records[0]["status"] == 200
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        os.close(main)
