"""Ingest benchmark: upload a large random file over HTTP to the real server, against raw gpg.

For each file size, in one run:

* ingest: a source signs up over HTTP, then POSTs /submit with the file streamed from
  disk (hand-built multipart, 1 MiB sends, correct Content-Length) to a real
  `sdlite serve source` (gunicorn, 1 gthread worker, 4 threads, default KDF profile).
  Timed from the first byte of the request to the 302 answer: that covers the transfer,
  the form parsing, the streaming into gpg, gpg's tail, the fsync and the database commit.
* baseline: `gpg --encrypt --compress-algo none` of the same (page-cached) file to the
  same key, from the server's own GnuPG home.
* memory: the gunicorn worker's peak RSS (VmHWM, reset with /proc/<pid>/clear_refs just
  before the upload, because the Argon2id derivations at signup peak far higher) minus
  its RSS just before the upload. A sampler thread also records the worker's and its gpg
  child's RSS every 10 ms, as a cross-check.

Targets (from the issue): ingest <= 1.5x gpg; worker RSS growth <= 64 MiB at 256 MiB and
at 1 GiB. The benchmark prints whether they are met; it never fails on timings.

Run: .venv/bin/python -m bench.ingest [--quick] [--keep] [--runs N] [--sizes 256,1024]

Modules: `upload` (the source over HTTP), `baseline` (raw gpg), `checks` (what the server
stored), `results` (per run and per size), `run` (one size), `report` (tables and JSON).
"""
