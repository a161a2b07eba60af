"""Tor benchmark: an end-to-end 10 MiB submission over a private Tor network, against a bare onion.

In one run, on a throwaway instance (fresh key pair, `sdlite init`, default KDF profile):

* network: the test suite's private Tor network (tests/e2e/tornet.py: 3 authorities,
  2 relays, an onion-service tor and one client tor, all on 127.0.0.1), started once.
* sdlite onion: `sdlite onion up` publishes the source service on the onion-service tor,
  forwarding to a real `sdlite serve source` (gunicorn, 1 gthread worker, 4 threads). A
  source signs up over the onion address, then POSTs /submit with a 10 MiB random file
  through the client tor's SOCKS port (socks5h), timed from the first request byte to
  the 302. The first such submission is decrypted with the air-gap key and compared.
* bare onion (the baseline): the same POST, through the same client tor, to a bare HTTP
  sink (reads the body, answers 302) published by ADD_ONION on the same onion-service tor
  with the options sdlite uses. Ratio = sdlite onion / bare onion: what the application
  costs on top of Tor.
* sdlite loopback (for information): the same submission to the same server over
  loopback HTTP, no Tor: sdlite onion / this is what Tor costs.

The three routes take turns in every run; medians, minima and maxima over the runs. No
target is set: the benchmark prints the figures and never fails on timings.

Run: .venv/bin/python -m bench.tor [--quick] [--runs N] [--keep] [--json PATH]

Modules: `sink` (the bare HTTP server), `onions` (publication and reachability), `upload`
(routes, signup, the timed POST), `run` (the runs and checks), `results`, `report`.
"""
