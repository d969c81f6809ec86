plugins { id("com.android.application") }
// implementation("com.google.firebase:firebase-analytics:21.0.0")
dependencies {
    implementation(platform("com.google.firebase:firebase-bom:33.1.0"))
    implementation("com.google.firebase:firebase-auth-ktx")
    implementation("com.squareup.okhttp3:okhttp:4.12.0")
}
