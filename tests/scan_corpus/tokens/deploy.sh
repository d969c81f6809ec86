#!/bin/sh
curl -H "Authorization: Bearer rrtestnTjjoW8Mg5d7EVKejDGj2PyB4L5XKCA8oz" https://api.example.test/v1
curl -H "Authorization: Bearer $TOKEN" https://api.example.test/v1
curl -H "Authorization: Bearer ${TOKEN}" https://api.example.test/v1
curl -H "Authorization: Bearer $(cat /run/secrets/token)" https://api.example.test/v1
echo "Bearer <token>"
