"""The relrun process's entry point: the ``relrun`` console script and ``python -m relrun``.

Ansible calls ``{{ ansible_playbook_python }} -m relrun sandbox …`` because the
``relrun`` executable need not be on its PATH.

SIGINT and SIGTERM are recorded from here on (:mod:`relrun.run.startup`), before the
commands are imported, and never given back: ``main()`` obeys one that came meanwhile
(exit 130, nothing done) and installs its own. Import this module only to run relrun.
"""

from relrun.run import startup

startup.record_signals()

from relrun.cli import main  # noqa: E402  # after the recording starts

__all__ = ["main"]

if __name__ == "__main__":
    main()
