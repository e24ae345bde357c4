//! Compile-time checks of `#[derive(Model)]` and `#[rustango::main]`: what must compile, and the errors (with
//! their spans) for what must not.

#[test]
fn derive_model_ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_full_model.rs");
    t.compile_fail("tests/ui/unknown_attribute.rs");
    t.compile_fail("tests/ui/not_a_field.rs");
    t.compile_fail("tests/ui/wrong_field_type.rs");
    // `#[rustango::main]`.
    t.pass("tests/ui/pass_main.rs");
    t.pass("tests/ui/pass_main_tail.rs");
    t.pass("tests/ui/pass_main_io_result.rs");
    t.compile_fail("tests/ui/main_not_async.rs");
}
