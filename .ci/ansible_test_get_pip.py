"""Stand-in for ansible-test's pip bootstrap script, for machines that reach only PyPI.

ansible-test bootstraps pip into each sanity virtual environment with a get-pip script it
downloads from its own file server, which CI cannot reach. This one does the same job with
the standard library's ensurepip, then installs the exact packages ansible-test asked for
(its pinned pip) from the package index. .ci/run copies it into ansible-test's cache.
"""

import subprocess
import sys

# get-pip options that are not pip-install options.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])
