# relrun: allow bearer-literal fp=07ead418d508 -- public sandbox token, rotated daily
curl -H "Authorization: Bearer rrtesteY5KRYXvUJDcSqnXsmiHVBWKLwwt2K99Jq" https://sandbox.example.test
echo "relrun: allow bearer-literal -- in a string" "Bearer rrtestsXQrJ9raCX78bF4KzwkS8LTaAUK4ZA3jzg"
