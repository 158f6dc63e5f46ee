//! `scenarios/FORMAT.md` documents the format by example: its example must be the library's
//! reference scenario, byte for byte, so the two never drift apart.

#[test]
fn format_doc_example_is_the_reference_scenario() {
    let doc = include_str!("../FORMAT.md");
    let reference = include_str!("../library/format-reference.yaml");
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```\n").expect("closed");
    assert_eq!(&doc[start..end], reference);
}
