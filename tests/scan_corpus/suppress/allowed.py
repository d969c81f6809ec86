import firebase_admin  # relrun: allow forbidden-import -- migration shim, removed in 2.1
# relrun: allow forbidden-import -- vendored test double
import pyrebase
import firebase  # relrun: allow forbidden-import
TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjb3JwdXMtdXNlci04IiwiaXNzIjoicmVscnVuLXNjYW4tY29ycHVzIiwiZXhwIjoxODkzNDU2MDAwfQ.-v2HhHH0aLUAlWxmAZjjNdAUBeDixmizFEjDotcIh3o"  # relrun: allow jwt-literal -- unpinned allows do not cover secrets
OTHER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjb3JwdXMtdXNlci05IiwiaXNzIjoicmVscnVuLXNjYW4tY29ycHVzIiwiZXhwIjoxODkzNDU2MDAwfQ.1swAfjs3GxqndYPwqKyXgWOBfvuLPi8wchoHZuPOPEg"  # relrun: allow jwt-literal fp=00000000 -- pinned to another value
NOTE = "relrun: allow forbidden-import -- inside a string is no comment"
import firebase_admin.auth
