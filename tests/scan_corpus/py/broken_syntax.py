# This file does not parse: it is scanned by the fallback and listed in parse_fallbacks.
import firebase_admin

def broken(:
    pass
