"""Ombuds benchmark: inbox and source pages over 10,000 sources, and a 1 GiB zip against cat.

In one run, on a throwaway instance (fresh key pair, `sdlite init`, fast test KDF):

* data: 10,000 sources with 10 items each (submissions and replies), bulk-inserted; one of
  them instead holds the download: 16 files of 64 MiB of random bytes in the store.
* pages: the ombuds app in-process, through Flask's test client, logged in once. The inbox
  (page 1, and page 100 for a deep offset), a source page, and the account page as the
  baseline (the same login, session and layout, and no inbox data). Wall time of each
  request, median of 20 after 2 warm-ups, and the SQL statements each one sends.
* download: `POST /col/<ref>/items action=download-all` from a real `sdlite serve
  journalist` (gunicorn, 1 gthread worker, 4 threads), read in 1 MiB chunks, against
  `cat` of the same page-cached files into a pipe read in 1 MiB reads, and `cat > /dev/null`.
  Median of 5, alternating. The worker's peak RSS (VmHWM, reset before each download)
  minus its RSS before.

Targets (from the issue): inbox <= 100 ms; zip throughput >= 0.7x cat; worker RSS growth
<= 64 MiB. The benchmark prints whether they are met; it never fails on timings.

Run: .venv/bin/python -m bench.ombuds [--quick] [--keep] [--runs N] [--work-dir DIR]

Modules: `plan` (sizes and targets), `data` (the sources, items and files), `login`,
`pages` (in-process), `archive` (the zip over HTTP and its check), `baseline` (cat),
`download` (the runs), `report` (tables and JSON).
"""
