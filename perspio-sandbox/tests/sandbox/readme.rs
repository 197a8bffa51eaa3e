//! The root README shows the example test of this crate's README, which is its doc test.

/// The first ```` ```rust,test_harness ```` block of a Markdown text.
fn example_test(markdown: &str) -> &str {
    let start = markdown
        .find("```rust,test_harness\n")
        .expect("a rust,test_harness block");
    let end = markdown[start..]
        .find("\n```\n")
        .expect("the end of the block");
    &markdown[start..start + end]
}

#[test]
fn the_root_readme_shows_the_doc_tested_example_unchanged() {
    let crate_readme = include_str!("../../README.md");
    let root_readme = include_str!("../../../README.md");

    assert_eq!(
        example_test(root_readme),
        example_test(crate_readme),
        "README.md's \"Testing your code against the sandbox\" must show \
         perspio-sandbox/README.md's example test (the doc-tested one): copy it over"
    );
}
