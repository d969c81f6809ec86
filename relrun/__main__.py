"""``python -m relrun``: the same as the ``relrun`` console script.

Ansible calls ``{{ ansible_playbook_python }} -m relrun sandbox …`` because the
``relrun`` executable need not be on its PATH.
"""

from relrun.cli import main

if __name__ == "__main__":
    main()
