"""The sandbox: a real, small release environment on 127.0.0.1.

Three programs (the demo messaging API, a weighted router, a load generator) run as
detached local processes that :mod:`relrun.sandbox.control` starts, steers and stops.
Nothing here is imported by the server programs' hot paths beyond what they need, so each
program starts quickly.
"""
