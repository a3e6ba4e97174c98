//! Reading single values out of small, flat JSON documents (package manifests, `go mod
//! download -json`, the bench load's summary line) without a JSON dependency in xtask.

/// The value after the first `"key":`, with leading whitespace removed.
fn value_after<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let quoted_key = format!("\"{key}\"");
    let after_key = &json[json.find(&quoted_key)? + quoted_key.len()..];
    Some(after_key.trim_start().strip_prefix(':')?.trim_start())
}

/// The string value of the first `"key": "value"` pair.
pub fn string_field(json: &str, key: &str) -> Option<String> {
    let value = value_after(json, key)?.strip_prefix('"')?;
    Some(value[..value.find('"')?].to_owned())
}

/// The unsigned integer value of the first `"key": 123` pair.
pub fn number_field(json: &str, key: &str) -> Option<u64> {
    let value = value_after(json, key)?;
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    value[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pinned_dependency_and_a_version() {
        let json = r#"{ "devDependencies": { "@tauri-apps/cli" : "2.12.5" }, "version": "1.0.0" }"#;
        assert_eq!(
            string_field(json, "@tauri-apps/cli").as_deref(),
            Some("2.12.5")
        );
        assert_eq!(string_field(json, "version").as_deref(), Some("1.0.0"));
        assert_eq!(string_field(json, "missing"), None);
    }

    #[test]
    fn reads_the_module_dir_from_go_mod_download() {
        let json = "{\n\t\"Path\": \"github.com/livekit/livekit-server\",\n\t\"Dir\": \"/root/go/pkg/mod/github.com/livekit/livekit-server@v1.9.11\",\n}";
        assert_eq!(
            string_field(json, "Dir").as_deref(),
            Some("/root/go/pkg/mod/github.com/livekit/livekit-server@v1.9.11")
        );
    }

    #[test]
    fn reads_numbers_from_the_load_summary() {
        let json = r#"{"packets_received": 12018, "packets_lost": 3, "seconds": 10.0}"#;
        assert_eq!(number_field(json, "packets_received"), Some(12018));
        assert_eq!(number_field(json, "packets_lost"), Some(3));
        assert_eq!(number_field(json, "missing"), None);
    }
}
