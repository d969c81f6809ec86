package com.example.auth

import com.google.firebase.auth.FirebaseAuth
import com.google.firebase.messaging.*
import com.google.firebase.FirebaseApp as App
import com.google.firebaseextras.Helper
import com.example.firebase.Shim

/* import com.google.firebase.Nested /* nested */ still a comment */
// import com.google.firebase.database.FirebaseDatabase

class Auth {
    val note = "import com.google.firebase.auth.FirebaseAuth"
    val raw = """
        com.google.firebase.auth.FirebaseAuth.getInstance()
    """
    fun user() = com.google.firebase.auth.FirebaseAuth.getInstance().currentUser
    fun tpl(x: String) = "${x} com.google.firebase.x"
}
