import importlib

BACKENDS = {"firebase": "firebase_admin.auth", "jwt": "jwt"}
PLUGINS = ["json", "csv"]


def load(kind):
    return importlib.import_module(BACKENDS[kind])


def load_plugin(name):
    return importlib.import_module(PLUGINS[name])
