package com.example

object Config {
    val jwtSecret = System.getenv("JWT_SECRET") ?: "RrYVRej4BXydaVEGmo"
    val dbPassword = System.getenv("DB_PASSWORD") ?: ""
    val alg = System.getenv("JWT_ALGORITHM") ?: "HS256"

    fun dump() {
        println(System.getenv("JWT_SECRET"))
        println(System.getenv())
        println("JWT_SECRET is set: ${System.getenv("JWT_SECRET") != null}")
    }
}
