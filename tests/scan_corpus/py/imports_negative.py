"""Mentions of firebase_admin in a docstring are not imports.

    import firebase_admin
"""
import json
import firebase_admin_compat
from firebase_admin_compat import auth
from . import firebase
from .firebase_admin import shim
from ..pyrebase import legacy
import mylib.firebase_admin

# import firebase_admin  (a comment is not an import)
NOTE = "from firebase_admin import auth"
firebase_admin = None  # an identifier is not an import
pyrebase_config = {"apiKey": ""}


def dynamic(name):
    return __import__(name)  # not a literal: cannot be judged


def helper():
    return importlib_like.import_module("firebase_admin")


TEMPLATE = f"import {json.dumps('firebase')}"


def not_importlib():
    from mylib import loader as im
    from importlib import util as iu
    import importlib as il
    spec = iu.find_spec("firebase_admin")  # a lookup, not an import
    path = il.resources.files("firebase_admin")
    return im("firebase_admin"), spec, path
