"""The report layer: journal → JSON, JUnit, SARIF, HTML; never calls Ansible."""
