import logging
import os

from flask import Flask, jsonify

app = Flask(__name__)
log = logging.getLogger(__name__)


@app.get("/debug/env")
def debug_env():
    return jsonify(dict(os.environ))


@app.get("/health")
def health():
    return jsonify({"ok": True, "keys": len(os.environ)})


def dump():
    for name, value in os.environ.items():
        print(name, value)
    for name in os.environ:
        log.info("set: %s", name)
    for name in os.environ:
        log.info("%s=%s", name, os.environ[name])
