#!/bin/sh
set -e
echo "deploying"
set -x
curl -u "deploy:$DEPLOY_PASSWORD" https://deploy.internal/
set +x
curl -u "deploy:$DEPLOY_PASSWORD" https://deploy.internal/
echo "$JWT_SECRET"
echo "JWT_SECRET is set"
printenv API_TOKEN
printenv HOME
