use serde::{Deserialize, Serialize};

/// What the app shell reports about itself: shown on the home screen and in bug reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub name: String,
    pub version: String,
    /// Operating system family as Rust names it (`linux`, `macos`, `windows`).
    pub os: String,
    pub arch: String,
    pub tauri_version: String,
    /// Version of the system webview (WebKitGTK, WKWebView, WebView2).
    pub webview_version: String,
}

impl AppInfo {
    /// One line for the footer: `Confab 0.1.0 · linux x86_64 · webview 2.50.6`.
    pub fn summary(&self) -> String {
        format!(
            "{} {} · {} {} · webview {}",
            self.name, self.version, self.os, self.arch, self.webview_version
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AppInfo {
        AppInfo {
            name: "Confab".into(),
            version: "0.1.0".into(),
            os: "linux".into(),
            arch: "x86_64".into(),
            tauri_version: "2.12.5".into(),
            webview_version: "2.50.6".into(),
        }
    }

    #[test]
    fn serialises_with_camel_case_keys_the_ui_reads() {
        let json = serde_json::to_value(sample()).expect("serialise");
        assert_eq!(json["tauriVersion"], "2.12.5");
        assert_eq!(json["webviewVersion"], "2.50.6");
        let back: AppInfo = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, sample());
    }

    #[test]
    fn summary_names_version_platform_and_webview() {
        assert_eq!(
            sample().summary(),
            "Confab 0.1.0 · linux x86_64 · webview 2.50.6"
        );
    }
}
