#!/bin/sh
export AWS_ACCESS_KEY_ID=AKIARRTESTVG2G7LJR7I
export AWS_SECRET_ACCESS_KEY=rrtestQaNUxRaRT26ssh9UwanFfD+JUZYVHRKUiw
# The AWS documentation's example pair is not a finding:
# AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export EXAMPLE_ID=AKIAXXXXXXXXXXXXXXXX
curl -H "Authorization: token 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" https://api.internal/user
curl -H "Authorization: Token rrtest74e85ddc39c22c9f0ca50572d0e7456418" https://api.internal/items
curl -H "Authorization: Basic ZGVwbG95OlJyNGtwVSVkbU5Hc0ROajQ=" https://api.internal/
curl -H "Authorization: Basic dXNlcjpwYXNzd29yZA==" https://api.internal/
curl -H "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b" https://docs.internal/
curl -H "Authorization: token $GITHUB_TOKEN" https://api.internal/user
