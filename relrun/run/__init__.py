"""The run layer: ansible-runner invocation, inventory, environment, event stream, locks, signals.

Never parses runbook YAML; it receives rendered playbook text and an inventory path.
"""
