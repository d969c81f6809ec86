module example.internal/api

go 1.22

require (
	firebase.google.com/go/v4 v4.14.0
	github.com/golang-jwt/jwt/v5 v5.2.1
	// firebase.google.com/go v3.13.0 was dropped
)
