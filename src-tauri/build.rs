fn main() {
    // The UI is embedded at compile time; say how to get it instead of failing obscurely.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let ui_index = std::path::Path::new(&manifest_dir).join("ui/dist/index.html");
    if !ui_index.is_file() {
        eprintln!(
            "{} is missing: the app embeds the built UI. Run `cargo xtask run` (or \
             `cargo xtask test`), which builds it with trunk first.",
            ui_index.display()
        );
        std::process::exit(1);
    }
    println!("cargo:rerun-if-changed=ui/dist/index.html");
    // Capabilities live beside the shell's sources rather than at the package root.
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        // Every app command gets allow-/deny- permissions, so a window can only call the
        // commands its capability lists (least privilege).
        .app_manifest(tauri_build::AppManifest::new().commands(&[
            "app_info",
            "next_invite",
            "host_meeting",
            "join_meeting",
            "meeting_updates",
            "leave_meeting",
            "end_meeting",
            "admit_guest",
            "admit_all",
            "deny_guest",
            "mute_participant",
            "remove_participant",
            "frame_channel",
            "nearby_meetings",
            "set_camera",
            "set_microphone",
            "send_chat",
            "raise_hand",
            "react",
            "cancel_transfer",
            "open_received_file",
            "show_received_file",
            "attach_files",
            "list_devices",
            "choose_device",
            "start_preview",
            "preview_level",
            "stop_preview",
            "play_test_sound",
            "profile",
            "set_media_preferences",
            "set_hosting_server",
            "set_global_push_to_talk",
            "list_share_targets",
            "start_share",
            "stop_share",
        ]));
    if let Err(error) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
