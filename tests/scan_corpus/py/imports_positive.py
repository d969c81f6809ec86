"""Every Python import form of a forbidden module."""
import firebase_admin
import os, pyrebase
from firebase_admin import auth, credentials
from firebase import firebase as fb
import firebase_admin.messaging as messaging
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firebase_admin.auth import UserRecord

try:
    import pyrebase.pyrebase
except ImportError:
    pyrebase = None


def lazy():
    sdk = __import__("firebase_admin")
    other = importlib.import_module("firebase.storage")
    return sdk, other


class Client:
    def connect(self):
        from firebase_admin import firestore
        return firestore


def aliased():
    import importlib as il
    from importlib import import_module as im
    dyn = __import__
    first = il.import_module("pyrebase")
    second = im("firebase_admin")
    third = dyn("firebase.database")
    return first, second, third
