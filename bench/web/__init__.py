"""Web benchmark: login latency against the KDF alone, landing-page req/s against a bare page.

In one run, on a throwaway instance (fresh key pair, `sdlite init`, DEFAULT KDF profile:
neither the servers nor this process set SDLITE_KDF_PROFILE or SDLITE_TESTING):

* logins: a real `sdlite serve source` and `sdlite serve journalist` (gunicorn, 1 gthread
  worker, 4 threads). A source signs up over HTTP once; each run then times POST /login
  with its codename (302), with a well-formed wrong codename (401), and an ombuds login
  (passphrase + TOTP) of a new account (a TOTP code is accepted once per account). The
  baselines, timed in this process just before: the project's CodenameKdf deriving the
  lookup id and the key seed (the two Argon2id a source login runs), and one Argon2id
  passphrase verify, with the instance's parameters. Median of 7 runs.
* landing page: `GET /` of the source app against a bare Flask page (bench.web.bare,
  served through the same `securedrop_lite.serve.serve` with the same settings), both
  pinned to one CPU, loaded in turn by the same `wrk` command pinned to the other CPU;
  also with a fixed session cookie (a returning visitor). Median req/s of 5 rounds of
  10 s. It also counts the session rows the runs wrote, and the SQL of one GET /.

Target (from the issue): landing page req/s >= 0.5x the bare page's. Logins have none:
their ratio shows what a login adds to its KDF. Nothing fails on timings.

Run: .venv/bin/python -m bench.web [--quick] [--runs N] [--seconds S] [--no-pin] [--keep]

Modules: `plan` (sizes, wrk settings, target), `servers` (the three servers, pinning),
`bare` (the baseline app), `login`, `wrk`, `landing`, `report` (tables, figures, JSON).
"""
