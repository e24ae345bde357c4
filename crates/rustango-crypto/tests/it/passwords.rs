use rustango_crypto::passwords::{
    self, PasswordError, PasswordHasher, PasswordPolicy, StrengthProblem,
};

/// Cheap parameters: the tests check behaviour, not cost.
fn cheap() -> PasswordHasher {
    PasswordHasher::new(64, 1, 1).expect("valid parameters")
}

#[test]
fn default_parameters_hash_verify_and_do_not_need_rehash() {
    // The one test that pays for the OWASP parameters.
    let phc = passwords::hash_password("s3cret pass").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(passwords::verify_password("s3cret pass", &phc).unwrap());
    assert!(!passwords::needs_rehash(&phc));
    assert_eq!(PasswordHasher::default(), PasswordHasher::OWASP);
}

#[test]
fn hash_and_verify_with_cheap_parameters() {
    let hasher = cheap();
    let phc = hasher.hash("hunter2").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
    assert!(hasher.verify("hunter2", &phc).unwrap());
    assert!(passwords::verify_password("hunter2", &phc).unwrap());
    assert!(!passwords::verify_password("hunter3", &phc).unwrap());
    assert!(!passwords::verify_password("", &phc).unwrap());
    // Fresh salt every time.
    assert_ne!(phc, hasher.hash("hunter2").unwrap());
}

#[test]
fn unicode_and_empty_passwords() {
    let hasher = cheap();
    for pw in ["", "pässwörd", "🔑🔑🔑", "a\0b"] {
        let phc = hasher.hash(pw).unwrap();
        assert!(passwords::verify_password(pw, &phc).unwrap(), "{pw:?}");
    }
}

#[test]
fn needs_rehash_detects_other_parameters_and_algorithms() {
    let cheap_phc = cheap().hash("pw").unwrap();
    assert!(passwords::needs_rehash(&cheap_phc));
    assert!(!cheap().needs_rehash(&cheap_phc));
    assert!(
        PasswordHasher::new(64, 2, 1)
            .unwrap()
            .needs_rehash(&cheap_phc)
    );
    assert!(
        PasswordHasher::new(128, 1, 1)
            .unwrap()
            .needs_rehash(&cheap_phc)
    );
    assert!(
        PasswordHasher::new(64, 1, 2)
            .unwrap()
            .needs_rehash(&cheap_phc)
    );
    // argon2i with the same parameters is another algorithm.
    let argon2i = cheap_phc.replacen("$argon2id$", "$argon2i$", 1);
    assert!(cheap().needs_rehash(&argon2i));
    assert!(passwords::needs_rehash("not a hash"));
    assert!(passwords::needs_rehash(""));
}

#[test]
fn malformed_hashes_are_errors_not_panics() {
    let cases = [
        "",
        "plain",
        "$",
        "$$$$",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$!!!",
        "$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=64,t=1,p=1,x=3$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA$extra",
    ];
    for phc in cases {
        assert!(
            matches!(
                passwords::verify_password("pw", phc),
                Err(PasswordError::MalformedHash)
            ),
            "{phc:?}: {:?}",
            passwords::verify_password("pw", phc)
        );
    }
    let long = format!("$argon2id${}", "a".repeat(10_000));
    assert!(passwords::verify_password("pw", &long).is_err());
}

#[test]
fn other_algorithms_are_unsupported() {
    let err = passwords::verify_password(
        "pw",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
    )
    .unwrap_err();
    assert!(
        matches!(&err, PasswordError::UnsupportedAlgorithm { algorithm } if algorithm == "scrypt"),
        "{err:?}"
    );
}

#[test]
fn absurd_costs_are_refused_before_any_work() {
    // 4 GiB and a billion passes: verifying must not even try.
    let phc = "$argon2id$v=19$m=4194304,t=1000000000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
    let err = passwords::verify_password("pw", phc).unwrap_err();
    assert!(
        matches!(
            err,
            PasswordError::TooExpensive {
                m_cost: 4_194_304,
                t_cost: 1_000_000_000,
                p_cost: 1
            }
        ),
        "{err:?}"
    );
}

#[test]
fn hasher_parameters_are_validated() {
    assert!(PasswordHasher::new(0, 1, 1).is_err());
    assert!(PasswordHasher::new(64, 0, 1).is_err());
    assert!(PasswordHasher::new(64, 1, 0).is_err());
    assert!(PasswordHasher::new(8, 1, 2).is_err(), "m < 8 * p");
    assert!(
        PasswordHasher::new(1024 * 1024, 1, 1).is_err(),
        "above verify limit"
    );
    let h = PasswordHasher::new(64, 3, 2).unwrap();
    assert_eq!((h.m_cost(), h.t_cost(), h.p_cost()), (64, 3, 2));
}

#[test]
fn dummy_verify_is_false() {
    assert!(!cheap().dummy_verify("anything"));
}

#[tokio::test]
async fn async_helpers_run_on_the_blocking_pool() {
    let phc = cheap().hash_async("async pw".to_owned()).await.unwrap();
    assert!(
        passwords::verify_password_async("async pw".to_owned(), phc.clone())
            .await
            .unwrap()
    );
    assert!(
        !passwords::verify_password_async("other".to_owned(), phc)
            .await
            .unwrap()
    );
    let err = passwords::verify_password_async("x".to_owned(), "junk".to_owned())
        .await
        .unwrap_err();
    assert!(matches!(err, PasswordError::MalformedHash));
}

#[test]
fn strong_passwords_pass() {
    for pw in [
        "correct horse battery staple",
        "Tr0ub4dor&3xyz",
        "vélo-rouge-17",
    ] {
        assert_eq!(
            passwords::check_strength(pw, &["alice", "alice@example.com"]),
            Ok(()),
            "{pw}"
        );
    }
}

#[test]
fn short_common_numeric_passwords_report_every_problem() {
    let problems = passwords::check_strength("1234567", &[]).unwrap_err();
    assert_eq!(
        problems,
        [
            StrengthProblem::TooShort { min_length: 8 },
            StrengthProblem::Common,
            StrengthProblem::AllNumeric,
        ]
    );
}

#[test]
fn common_passwords_are_found_case_and_space_insensitively() {
    for pw in [
        "password",
        "Password",
        "  PASSWORD  ",
        "qwerty123",
        "iloveyou",
        "letmein",
    ] {
        assert!(passwords::is_common_password(pw), "{pw}");
    }
    assert!(!passwords::is_common_password("zebra-kettle-morning"));
    let problems = passwords::check_strength("Password1", &[]).unwrap_err();
    assert_eq!(problems, [StrengthProblem::Common]);
}

#[test]
fn numeric_passwords() {
    let problems = passwords::check_strength("8675309142", &[]).unwrap_err();
    assert_eq!(problems, [StrengthProblem::AllNumeric]);
    // Other scripts' digits count too, as in Django (`str.isdigit`).
    let problems = passwords::check_strength("١٢٣٤٥٦٧٨٩٠", &[]).unwrap_err();
    assert!(problems.contains(&StrengthProblem::AllNumeric));
}

#[test]
fn similarity_to_user_attributes() {
    // A word of the email ("smith") is close enough.
    let problems =
        passwords::check_strength("bobsmith1", &["", "bob.smith@example.com"]).unwrap_err();
    assert_eq!(problems, [StrengthProblem::TooSimilar { attribute: 1 }]);
    let problems = passwords::check_strength("BSmith99", &["someone", "bsmith"]).unwrap_err();
    assert_eq!(problems, [StrengthProblem::TooSimilar { attribute: 1 }]);
    // A long passphrase merely containing a short attribute is fine (Django's rule).
    assert_eq!(
        passwords::check_strength("my dog bob likes long walks", &["bob"]),
        Ok(())
    );
    // Anagrams are not similar (SequenceMatcher.ratio, not quick_ratio).
    assert_eq!(passwords::check_strength("htimsbob", &["bobsmith"]), Ok(()));
}

#[test]
fn policy_can_be_tuned() {
    let mut policy = PasswordPolicy::default();
    policy.min_length = 12;
    policy.reject_common = false;
    policy.max_similarity = None;
    assert_eq!(
        policy.check("password", &["password"]).unwrap_err(),
        [StrengthProblem::TooShort { min_length: 12 }]
    );
    policy.max_length = 16;
    assert_eq!(
        policy.check(&"x".repeat(17), &[]).unwrap_err(),
        [StrengthProblem::TooLong { max_length: 16 }]
    );
    policy.reject_numeric = false;
    assert_eq!(policy.check("123456789012", &[]), Ok(()));
}

#[test]
fn problems_read_as_sentences() {
    assert_eq!(
        StrengthProblem::TooShort { min_length: 8 }.to_string(),
        "This password is too short. It must contain at least 8 characters."
    );
    assert_eq!(
        StrengthProblem::Common.to_string(),
        "This password is too common."
    );
    assert_eq!(
        StrengthProblem::AllNumeric.to_string(),
        "This password is entirely numeric."
    );
    assert_eq!(
        StrengthProblem::TooSimilar { attribute: 0 }.to_string(),
        "The password is too similar to your personal information."
    );
}

#[test]
fn huge_inputs_do_not_blow_up() {
    let huge = "a".repeat(100_000);
    let problems = passwords::check_strength(&huge, &[&huge]).unwrap_err();
    assert_eq!(problems, [StrengthProblem::TooLong { max_length: 4096 }]);
}
