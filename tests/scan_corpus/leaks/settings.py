import logging
import os

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

logger = logging.getLogger(__name__)

JWT_SECRET = os.getenv("JWT_SECRET", "RrYiGGN8uvYxd5UBMi")
API_KEY = os.environ.get("API_KEY", "RrspawgsKzJTEGzKsE")
DB_PASSWORD = os.environ.get("DB_PASSWORD") or "RrrEDhqTjARxFSJoPX"
os.environ.setdefault("SIGNING_KEY", "RrMCfrc9V77M%AsjPq")

PLAIN = os.getenv("DB_PASSWORD")
EMPTY = os.getenv("JWT_SECRET", "")
DEV = os.getenv("JWT_SECRET", "dev")
CHANGE = os.getenv("JWT_SECRET", "changeme")
ANGLE = os.getenv("JWT_SECRET", "<secret>")
ALG = os.getenv("JWT_ALGORITHM", "HS256")
EXPIRE = os.getenv("ACCESS_TOKEN_EXPIRE_MINUTES", "30")
HOST = os.getenv("DB_HOST", "db.internal.example")
WORDS = os.getenv("JWT_SECRET", "change-me-in-production")


class Settings(BaseSettings):
    jwt_secret: str = "Rrq78Zcqz5eVf84kA4"
    api_key: SecretStr = Field(default="RruXTXyM6her2Q9KKB")
    db_password: str = ""
    jwt_algorithm: str = "HS256"
    access_token_expire_minutes: int = 30
    webhook_secret: str = "replace-me"


settings = Settings()


def leaks():
    print(os.environ["JWT_SECRET"])
    logger.info(f"using secret {settings.jwt_secret}")
    logger.debug("key=%s", os.getenv("API_KEY"))
    print(os.environ)
    logging.info("env: %s", dict(os.environ))
    secret = os.environ["JWT_SECRET"]
    print("secret is " + secret)
    print(settings.api_key.get_secret_value())


def fine():
    print("JWT_SECRET is not set")
    logger.info("reading %s", "JWT_SECRET")
    print(os.environ.get("HOME"))
    print(len(settings.jwt_secret))
    logger.info("algorithm %s", settings.jwt_algorithm)
    print(list(os.environ.keys()))
    logger.info("secret configured: %s", bool(settings.jwt_secret))
    print(settings.jwt_secret[:4])


def keyword_defaults():
    password = os.environ.get("PASSWORD", default="Rre8m7%2fei7oNM4ig")
    token = os.getenv(key="API_TOKEN", default="RrgTtjtYKaAZgTs4fv")
    os.environ.setdefault("JWT_SECRET", default="RrSUu#u479MsQtK8Qs")
    logger.info("token %s", os.getenv(key="API_TOKEN"))
    fine_default = os.getenv(key="JWT_SECRET", default="changeme")
    public = os.getenv("JWT_PUBLIC_KEY", default="RrGqvzsjRTySUxEteV")
    return password, token, fine_default, public


def public_material():
    logger.info("public key: %s", os.getenv("JWT_PUBLIC_KEY"))
    print(os.environ["JWT_PUBKEY"], os.environ["PUB_KEY"], settings.jwt_public)
    logger.debug("%s", os.environ["NEXT_PUBLIC_API_KEY"])
    logger.info("publish %s", os.environ["PUBLISH_TOKEN"])
