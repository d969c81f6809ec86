"""The runbook layer: schema (pydantic models), YAML loading with positions, cross-field checks.

Knows nothing about Ansible.
"""
