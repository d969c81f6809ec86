package com.example;

import static com.google.firebase.auth.FirebaseAuth.getInstance;
import com.google.firebase.FirebaseOptions;
import java.util.List;

/** Uses com.google.firebase.FirebaseApp only in this Javadoc. */
public class Legacy {
    String s = "com.google.firebase.FirebaseApp";
    String block = """
        import com.google.firebase.FirebaseApp;
        """;
    Object app = com.google.firebase.FirebaseApp.initializeApp();
    char c = '"';
}
