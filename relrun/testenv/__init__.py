"""Test environments made of network namespaces: a fleet of SSH hosts behind HAProxy.

:func:`relrun.testenv.netns.fleet` builds one (root only, see docs/fleet.md); tests and
``bench/bench_fleet.py`` drill against it over real SSH.
"""
