"""Options every module that talks HTTP(S) to an API shares."""

from __future__ import annotations


class ModuleDocFragment:
    """TLS and proxy options (see ansible.module_utils.urls)."""

    DOCUMENTATION = r"""
options:
  validate_certs:
    description:
      - Check the server's certificate and host name. Turn off only for a test service.
    type: bool
    default: true
  ca_path:
    description: PEM bundle of the CAs to trust instead of the system's.
    type: path
  client_cert:
    description: PEM client certificate to present (it may contain the key too).
    type: path
  client_key:
    description: PEM key of O(client_cert), when the key is in a file of its own.
    type: path
  use_proxy:
    description:
      - Honour the C(https_proxy), C(http_proxy) and C(no_proxy) environment variables
        (set them with the task's C(environment)).
    type: bool
    default: true
"""
