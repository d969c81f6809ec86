import stripe

stripe.api_key = "sk_live_rrtesta73G2mi2bJa4e9p28uZYjFWEpp"
RESTRICTED = "rk_live_rrtestJDKSotDtY6uDwzeajdr9AFktRL"
TEST_MODE_KEY = "sk_test_rrtest8dFcTE2iiKfkPinjLLVv4CA9wK"
DOCS_KEY = "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"
SEQ_KEY = "sk_live_1234567890abcdefghijklmn"
