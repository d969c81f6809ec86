import requests

SERVICE_JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjb3JwdXMtdXNlci0xIiwiaXNzIjoicmVscnVuLXNjYW4tY29ycHVzIiwiZXhwIjoxODkzNDU2MDAwfQ.UU7miRzQbQE9liQ3dzUnbfV7jOEHQASsUMMjbzZIiKY"
HEADERS = {"Authorization": "Bearer rrtestVB8fYzuEExNcxyG94AfsZUvrxZRJB64z8n"}
# an old token kept in a comment is still a leak: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjb3JwdXMtdXNlci0yIiwiaXNzIjoicmVscnVuLXNjYW4tY29ycHVzIiwiZXhwIjoxODkzNDU2MDAwfQ.l8PHWnYJRKdSZOuWAa-bWa_UCMRnpJZxI_Wp7aXfvZY


def call(token, settings):
    a = {"Authorization": f"Bearer {token}"}
    b = {"Authorization": "Bearer " + token}
    c = {"Authorization": "Bearer {}".format(token)}
    d = {"Authorization": "Bearer %s" % token}
    e = {"Authorization": "Bearer <token>"}
    g = {"token_type": "Bearer", "access_token": settings.token}
    h = "Authorization: Bearer YOUR_TOKEN_HERE"
    i = "Bearer abcdef1234567890abcdef1234567890"
    example = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0..."
    truncated = "eyJhbGc..."
    docs = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    return requests.get("https://api.example.test", headers=a), b, c, d, e, g, h, i, example, truncated, docs
