package main

import (
	"fmt"
	"log"
	"os"

	firebase "firebase.google.com/go/v4"
	// "firebase.google.com/go/v4/auth" was removed
)

func main() {
	fmt.Println(os.Environ())
	log.Printf("signing with %s", os.Getenv("JWT_SECRET"))
	log.Printf("secret length %d", len(os.Getenv("JWT_SECRET")))
	log.Printf("region %s", os.Getenv("AWS_REGION"))
	_ = firebase.Config{}
}
