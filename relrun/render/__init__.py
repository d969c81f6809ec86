"""The render layer: Runbook → playbook data dumped as stable YAML, and human documents.

Runs nothing.
"""
