import os

SECRET_KEY = "django-insecure-rrtest%#=)*zhn_)6sECUZESAbSoNgyai8#h9YY*&YUYLj"
DEBUG = False
API_TOKEN_HEADER = "X-Api-Token"
DB_PASSWORD = os.environ["DB_PASSWORD"]
SIGNING_KEY = "changeme-in-production"
CACHE_KEY_PREFIX = "app"


def configure(app):
    app.config["SECRET_KEY"] = "RrGECwbxJMMd6X%9"
    app.config["SESSION_COOKIE_NAME"] = "session"
