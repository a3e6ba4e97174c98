//! Which codec a publisher sends is the first one the server's answer lists for that media
//! section. LiveKit clients do not reorder their offers; they name the codec they want in
//! `add_track` (e.g. H.264) and expect the server to put it first, as `livekit-server` does.
//! This rewrites the payload type order of our answer accordingly, and nothing else.

use std::collections::HashMap;

/// `answer` with, in each media section whose track (by the offer's `msid`) has a preferred
/// codec, that codec's payload types moved to the front of the `m=` line.
///
/// `preferred` maps a client track id (the `add_track` cid) to a codec name such as `h264`
/// or `video/H264`.
pub fn prefer_codecs(answer: &str, offer: &str, preferred: &HashMap<String, String>) -> String {
    if preferred.is_empty() {
        return answer.to_owned();
    }
    let codec_by_mid: HashMap<&str, &str> = sections(offer)
        .iter()
        .filter_map(|section| {
            let mid = attribute(section, "a=mid:")?;
            let track = attribute(section, "a=msid:")?.split_whitespace().nth(1)?;
            let codec = preferred.get(track)?;
            Some((mid, codec.rsplit('/').next().unwrap_or(codec)))
        })
        .collect();
    let mut out = Vec::new();
    for section in sections(answer) {
        let codec = attribute(&section, "a=mid:").and_then(|mid| codec_by_mid.get(mid));
        match codec {
            Some(codec) => out.extend(reorder(&section, codec)),
            None => out.extend(section.iter().map(|line| (*line).to_owned())),
        }
    }
    let mut text = out.join("\r\n");
    text.push_str("\r\n");
    text
}

/// The session part, then one slice of lines per `m=` section.
fn sections(sdp: &str) -> Vec<Vec<&str>> {
    let mut sections: Vec<Vec<&str>> = vec![Vec::new()];
    for line in sdp.lines().filter(|line| !line.is_empty()) {
        if line.starts_with("m=") {
            sections.push(Vec::new());
        }
        if let Some(section) = sections.last_mut() {
            section.push(line);
        }
    }
    sections
}

fn attribute<'a>(section: &[&'a str], prefix: &str) -> Option<&'a str> {
    section
        .iter()
        .find_map(|line| line.strip_prefix(prefix))
        .map(str::trim)
}

/// The section with `codec`'s payload types first on its `m=` line.
fn reorder(section: &[&str], codec: &str) -> Vec<String> {
    let wanted: Vec<&str> = section
        .iter()
        .filter_map(|line| line.strip_prefix("a=rtpmap:"))
        .filter_map(|rest| {
            let (pt, encoding) = rest.split_once(' ')?;
            let name = encoding.split('/').next()?;
            name.eq_ignore_ascii_case(codec).then_some(pt)
        })
        .collect();
    section
        .iter()
        .map(|line| match line.strip_prefix("m=") {
            Some(media) if !wanted.is_empty() => {
                let mut fields: Vec<&str> = media.split(' ').collect();
                // m=<media> <port> <proto> <pt>...
                if fields.len() > 3 {
                    let pts = fields.split_off(3);
                    let (first, rest): (Vec<&str>, Vec<&str>) =
                        pts.into_iter().partition(|pt| wanted.contains(pt));
                    fields.extend(first);
                    fields.extend(rest);
                }
                format!("m={}", fields.join(" "))
            }
            _ => (*line).to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=msid:- mic\r\na=rtpmap:111 opus/48000/2\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 102\r\na=mid:1\r\na=msid:- cam\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:102 H264/90000\r\n";
    const ANSWER: &str = "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=rtpmap:102 H264/90000\r\na=rtpmap:103 rtx/90000\r\n";

    #[test]
    fn the_preferred_codec_leads_its_track_section_only() {
        let preferred = HashMap::from([("cam".to_owned(), "video/H264".to_owned())]);
        let munged = prefer_codecs(ANSWER, OFFER, &preferred);
        assert!(
            munged.contains("m=video 9 UDP/TLS/RTP/SAVPF 102 96 97 103\r\n"),
            "{munged}"
        );
        assert!(munged.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
        assert_eq!(munged.lines().count(), ANSWER.lines().count());
    }

    #[test]
    fn red_leads_an_audio_section_when_asked_for() {
        let offer = OFFER.replace(
            "a=rtpmap:111 opus/48000/2",
            "a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2",
        );
        let answer = ANSWER
            .replace(
                "m=audio 9 UDP/TLS/RTP/SAVPF 111",
                "m=audio 9 UDP/TLS/RTP/SAVPF 111 63",
            )
            .replace(
                "a=rtpmap:111 opus/48000/2",
                "a=rtpmap:111 opus/48000/2\r\na=rtpmap:63 red/48000/2",
            );
        let preferred = HashMap::from([("mic".to_owned(), "audio/red".to_owned())]);
        let munged = prefer_codecs(&answer, &offer, &preferred);
        assert!(
            munged.contains("m=audio 9 UDP/TLS/RTP/SAVPF 63 111\r\n"),
            "{munged}"
        );
        assert!(munged.contains("m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\r\n"));
    }

    #[test]
    fn without_preferences_or_matches_the_answer_is_unchanged() {
        assert_eq!(prefer_codecs(ANSWER, OFFER, &HashMap::new()), ANSWER);
        let other = HashMap::from([("screen".to_owned(), "h264".to_owned())]);
        assert_eq!(prefer_codecs(ANSWER, OFFER, &other), ANSWER);
        let absent = HashMap::from([("cam".to_owned(), "av1".to_owned())]);
        assert_eq!(prefer_codecs(ANSWER, OFFER, &absent), ANSWER);
    }
}
