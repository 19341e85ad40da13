//! Object keys as S3 notifications carry them, and as CloudFront wants them.
//!
//! S3 sends keys form-encoded (`+` is a space, `%XX` bytes of UTF-8). CloudFront wants
//! paths as they appear in request URLs: RFC 1738 unsafe characters, `?` and non-ASCII
//! bytes percent-encoded, everything else literal, or the invalidation silently misses.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// Longest path CloudFront accepts in an invalidation batch.
pub const MAX_PATH_LEN: usize = 4000;

/// RFC 1738 "unsafe" characters plus `?` (it would start a query string). Controls and
/// non-ASCII bytes are always encoded by `utf8_percent_encode`.
const CLOUDFRONT_PATH_UNSAFE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'#')
    .add(b'%')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']')
    .add(b'`')
    .add(b'?');

/// Characters CloudFront cannot invalidate literally: a raw `~` is rejected (aws/aws-sdk#525,
/// bep/s3deploy#46) and whether `%7E` matches is disputed; a `*` anywhere but last is
/// rejected and `%2A` is not a wildcard (apancutt/deploy-aws-s3-cloudfront#7). A key holding
/// one is covered by a wildcard that ends just before it.
const WILDCARD_BEFORE: [u8; 2] = [b'~', b'*'];

/// Why a key cannot become a CloudFront path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key is empty")]
    Empty,
    #[error("key {0:?} has a malformed percent-escape at byte {1}")]
    MalformedEscape(String, usize),
    #[error("key {0:?} is not UTF-8 once decoded")]
    NotUtf8(String),
    #[error(
        "path for key {key:?} is {len} characters once encoded; CloudFront accepts at most {MAX_PATH_LEN}"
    )]
    TooLong { key: String, len: usize },
}

/// Decodes a key as S3 notifications deliver it: `+` is a space, then `%XX` escapes.
/// Borrows when there is nothing to decode.
pub fn decode_key(encoded: &str) -> Result<Cow<'_, str>, KeyError> {
    if encoded.is_empty() {
        return Err(KeyError::Empty);
    }
    if !encoded.contains(['+', '%']) {
        return Ok(Cow::Borrowed(encoded));
    }
    if let Some(at) = malformed_escape(encoded) {
        return Err(KeyError::MalformedEscape(
            abbreviate(encoded).into_owned(),
            at,
        ));
    }
    // `+` is a space and `%2B` a plus: decode between the `+`s, into one buffer.
    let mut bytes = Vec::with_capacity(encoded.len());
    for (i, piece) in encoded.split('+').enumerate() {
        if i > 0 {
            bytes.push(b' ');
        }
        bytes.extend(percent_decode_str(piece));
    }
    let decoded = String::from_utf8(bytes)
        .map_err(|_| KeyError::NotUtf8(abbreviate(encoded).into_owned()))?;
    if decoded.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(Cow::Owned(decoded))
}

/// Percent-encodes a decoded path for CloudFront, leaving safe characters literal.
pub fn encode(decoded_path: &str) -> String {
    // Appended piece by piece into room for a few escapes: no formatter, and no regrowing.
    let mut encoded = String::with_capacity(decoded_path.len() + 16);
    encoded.extend(utf8_percent_encode(decoded_path, CLOUDFRONT_PATH_UNSAFE));
    encoded
}

/// The CloudFront path for `url_path` (a decoded URL path starting with `/`).
///
/// A path CloudFront cannot take literally becomes a wildcard ending just before the first
/// trouble: `~` or `*`, an empty segment (`//`), or a `.` or `..` segment. Clients remove dot
/// segments before sending a URL (RFC 3986, 5.2.4), so such a key is reachable only through
/// an escaped spelling, and what CloudFront makes of `//` and dot segments is undocumented:
/// the wildcard covers every spelling.
pub fn cloudfront_path(url_path: &str) -> Result<String, KeyError> {
    let path = match wildcard_cut(url_path) {
        Some(at) => encode(&url_path[..at]) + "*",
        None => encode(url_path),
    };
    if path.len() > MAX_PATH_LEN {
        return Err(KeyError::TooLong {
            key: abbreviate(url_path).into_owned(),
            len: path.len(),
        });
    }
    Ok(path)
}

/// The path for `url_path` with `~` and `*` percent-escaped, when nothing else about it
/// needs a wildcard (no empty or dot segment): the exact spelling of a key whose only other
/// cover is the root wildcard. CloudFront takes `%7E` and `%2A` as literal characters
/// (bep/s3deploy sends `%7E` for `~`); whether a viewer's cached URL is spelled that way
/// is disputed (aws/aws-sdk#525), which docs/trust.md records.
pub fn escaped_spelling(url_path: &str) -> Option<String> {
    let without = url_path.replace(['~', '*'], "-");
    if wildcard_cut(&without).is_some() {
        return None;
    }
    let escaped = encode(url_path).replace('~', "%7E").replace('*', "%2A");
    (escaped.len() <= MAX_PATH_LEN).then_some(escaped)
}

/// Byte offset where a wildcard must start for `url_path`, if it needs one.
fn wildcard_cut(url_path: &str) -> Option<usize> {
    // Bytes, not chars: both are ASCII, which never occurs inside a multi-byte character.
    let special = url_path
        .bytes()
        .position(|byte| WILDCARD_BEFORE.contains(&byte));
    let mut start = 1;
    let mut segment_cut = None;
    for segment in url_path[1.min(url_path.len())..].split('/') {
        let end = start + segment.len();
        // The last segment may be empty: that is a directory URL like `/a/`.
        let empty_inside = segment.is_empty() && end < url_path.len();
        if empty_inside || segment == "." || segment == ".." {
            segment_cut = Some(start);
            break;
        }
        start = end + 1;
    }
    match (special, segment_cut) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Every spelling under which viewers can have cached `path` (an encoded CloudFront path).
///
/// With `aliases`, a path holding `+` is also sent as `%2B` (the only spelling an S3 origin
/// serves the key under, since S3 reads `+` in a URL path as a space), and a path holding a
/// space is also sent with `+` for it (the second URL an S3 origin serves it under). Custom
/// origins see the literal spelling, always sent. At most three spellings per path.
pub fn spellings(path: String, aliases: bool) -> Vec<String> {
    if !aliases {
        return vec![path];
    }
    let mut all = Vec::with_capacity(3);
    // Encoding never produces `+`, and produces `%20` only for a space (a literal `%` is
    // `%25`), so both can be rewritten on the encoded string.
    let plus_escaped = path.contains('+').then(|| path.replace('+', "%2B"));
    let space_as_plus = path
        .contains("%20")
        .then(|| plus_escaped.as_deref().unwrap_or(&path).replace("%20", "+"));
    all.push(path);
    // An alias past CloudFront's limit cannot be sent; the literal spelling was checked.
    all.extend(
        plus_escaped
            .into_iter()
            .chain(space_as_plus)
            .filter(|alias| alias.len() <= MAX_PATH_LEN),
    );
    all
}

/// The wildcard that also reaches `path` with any query string (`/a.css` -> `/a.css*`): when
/// the cache key holds query strings, the bare path invalidates only the bare URL. A wildcard
/// stays as it is. A path already at CloudFront's length limit gives up its last character
/// (never half of an escape) for the `*`, which still covers it.
pub fn with_any_query(path: String) -> String {
    if path.ends_with('*') {
        return path;
    }
    let mut stem = path;
    if stem.len() >= MAX_PATH_LEN {
        // Encoded paths are ASCII, so any byte offset is a character boundary.
        stem.truncate(MAX_PATH_LEN - 1);
        let bytes = stem.as_bytes();
        let cut = match bytes.len() {
            n if n >= 1 && bytes[n - 1] == b'%' => n - 1,
            n if n >= 2 && bytes[n - 2] == b'%' => n - 2,
            n => n,
        };
        stem.truncate(cut);
    }
    stem.push('*');
    stem
}

/// Keeps messages about absurdly long keys readable.
pub fn abbreviate(text: &str) -> Cow<'_, str> {
    shorten(text, 100)
}

/// `text` cut after `keep` characters, marked with an ellipsis: log lines stay bounded
/// whatever a sender wrote.
pub fn shorten(text: &str, keep: usize) -> Cow<'_, str> {
    match text.char_indices().nth(keep) {
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
        None => Cow::Borrowed(text),
    }
}

/// True for a string CloudFront accepts as an invalidation path: what `cloudfront_path`
/// promises, checked independently of how it was built.
pub fn is_valid_cloudfront_path(path: &str) -> bool {
    let star_ok = match path.find('*') {
        Some(at) => at == path.len() - 1,
        None => true,
    };
    path.starts_with('/')
        && path.len() <= MAX_PATH_LEN
        && star_ok
        && wildcard_cut(whole_segments(path)).is_none()
        && path
            .bytes()
            .all(|b| b.is_ascii_graphic() && !UNSAFE_VISIBLE.contains(&b))
        && malformed_escape(path).is_none()
}

/// The part of `path` made of whole segments: a wildcard's last segment is only a prefix
/// (`/a/.*` matches `/a/.well-known`), so it is no dot segment.
fn whole_segments(path: &str) -> &str {
    match path.strip_suffix('*') {
        Some(stem) => &stem[..stem.rfind('/').map_or(0, |at| at + 1)],
        None => path,
    }
}

/// The visible ASCII characters a path must not hold literally (`%` only starts escapes).
const UNSAFE_VISIBLE: &[u8] = b"\"<>#{}|\\^[]`?~";

/// Byte offset of the first `%` not followed by two hex digits.
fn malformed_escape(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().position(|(i, &b)| {
        b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_form_encoding() {
        assert_eq!(decode_key("red+flower.jpg").unwrap(), "red flower.jpg");
        assert_eq!(decode_key("c%2B%2B.html").unwrap(), "c++.html");
        assert_eq!(decode_key("100%25.txt").unwrap(), "100%.txt");
        assert_eq!(
            decode_key("caf%C3%A9/men%C3%BC.html").unwrap(),
            "café/menü.html"
        );
        assert_eq!(decode_key("a%3Fb%23c").unwrap(), "a?b#c");
        assert_eq!(decode_key("%7Euser/x").unwrap(), "~user/x");
    }

    #[test]
    fn rejects_undecodable_keys() {
        assert_eq!(decode_key(""), Err(KeyError::Empty));
        assert!(matches!(
            decode_key("bad%zz"),
            Err(KeyError::MalformedEscape(_, 3))
        ));
        assert!(matches!(
            decode_key("trailing%4"),
            Err(KeyError::MalformedEscape(_, 8))
        ));
        assert!(matches!(decode_key("%FF%FE"), Err(KeyError::NotUtf8(_))));
    }

    #[test]
    fn encodes_unsafe_characters_only() {
        assert_eq!(encode("/red flower.jpg"), "/red%20flower.jpg");
        assert_eq!(encode("/c++.html"), "/c++.html");
        assert_eq!(encode("/100%.txt"), "/100%25.txt");
        assert_eq!(encode("/a?b#c"), "/a%3Fb%23c");
        assert_eq!(encode("/café"), "/caf%C3%A9");
        assert_eq!(encode("/日本"), "/%E6%97%A5%E6%9C%AC");
        assert_eq!(
            encode("/a\"<>{}|\\^[]`b"),
            "/a%22%3C%3E%7B%7D%7C%5C%5E%5B%5D%60b"
        );
        assert_eq!(encode("/keep-_.!$&'()+,;=:@/x"), "/keep-_.!$&'()+,;=:@/x");
    }

    #[test]
    fn tilde_and_star_keys_become_a_wildcard_just_before_them() {
        assert_eq!(cloudfront_path("/docs/~user/a.html").unwrap(), "/docs/*");
        assert_eq!(cloudfront_path("/a~b").unwrap(), "/a*");
        assert_eq!(cloudfront_path("/my file*").unwrap(), "/my%20file*");
        assert_eq!(cloudfront_path("/plain.html").unwrap(), "/plain.html");
    }

    #[test]
    fn empty_and_dot_segments_become_a_wildcard_just_before_them() {
        assert_eq!(cloudfront_path("/a//b.html").unwrap(), "/a/*");
        assert_eq!(cloudfront_path("//index.html").unwrap(), "/*");
        assert_eq!(cloudfront_path("/a/../b.html").unwrap(), "/a/*");
        assert_eq!(cloudfront_path("/a/./b.html").unwrap(), "/a/*");
        assert_eq!(cloudfront_path("/docs/..").unwrap(), "/docs/*");
        // Dots inside a name, a directory URL and the root are ordinary.
        assert_eq!(cloudfront_path("/a/..b/.c").unwrap(), "/a/..b/.c");
        assert_eq!(cloudfront_path("/a/").unwrap(), "/a/");
        assert_eq!(cloudfront_path("/").unwrap(), "/");
        assert_eq!(cloudfront_path("/a~b//c").unwrap(), "/a*");
    }

    #[test]
    fn spellings_cover_s3_origins_and_custom_origins() {
        let all = |path: &str| spellings(path.to_owned(), true);
        assert_eq!(all("/a.html"), ["/a.html"]);
        assert_eq!(all("/a%20b.html"), ["/a%20b.html", "/a+b.html"]);
        assert_eq!(all("/c++.html"), ["/c++.html", "/c%2B%2B.html"]);
        assert_eq!(
            all("/c++%20guide.pdf"),
            [
                "/c++%20guide.pdf",
                "/c%2B%2B%20guide.pdf",
                "/c%2B%2B+guide.pdf"
            ]
        );
        assert_eq!(
            all("/my%20dir/a+*"),
            ["/my%20dir/a+*", "/my%20dir/a%2B*", "/my+dir/a%2B*"]
        );
        assert_eq!(spellings("/c++%20x".into(), false), ["/c++%20x"]);
    }

    #[test]
    fn query_strings_make_every_path_a_wildcard() {
        assert_eq!(with_any_query("/a.css".into()), "/a.css*");
        assert_eq!(with_any_query("/blog/".into()), "/blog/*");
        assert_eq!(with_any_query("/people/*".into()), "/people/*");
        // At the length limit the last character makes room, never half an escape.
        let long = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
        let wildcard = with_any_query(long.clone());
        assert_eq!(wildcard.len(), MAX_PATH_LEN);
        assert!(long.starts_with(wildcard.trim_end_matches('*')));
        let escaped = format!("/{}%20", "a".repeat(MAX_PATH_LEN - 4));
        assert_eq!(escaped.len(), MAX_PATH_LEN);
        let wildcard = with_any_query(escaped.clone());
        assert!(is_valid_cloudfront_path(&wildcard), "{wildcard}");
        assert!(escaped.starts_with(wildcard.trim_end_matches('*')));
    }

    #[test]
    fn rejects_paths_over_the_limit() {
        let long = format!("/{}", "é".repeat(700)); // 6 bytes encoded each
        assert!(matches!(
            cloudfront_path(&long),
            Err(KeyError::TooLong { len: 4201, .. })
        ));
        assert!(cloudfront_path(&format!("/{}", "a".repeat(3999))).is_ok());
    }

    proptest! {
        #[test]
        fn any_key_round_trips_through_encoding(key in "\\PC{1,60}") {
            let path = cloudfront_path(&format!("/{key}")).unwrap();
            prop_assert!(is_valid_cloudfront_path(&path), "{path}");
            for spelling in spellings(path.clone(), true) {
                prop_assert!(is_valid_cloudfront_path(&spelling), "{spelling}");
            }
            if wildcard_cut(&format!("/{key}")).is_none() {
                let back = percent_decode_str(&path).decode_utf8().unwrap();
                prop_assert_eq!(back, format!("/{key}"));
            }
        }

        #[test]
        fn query_wildcards_are_valid_and_cover_the_path(key in "\\PC{1,60}") {
            for spelling in spellings(cloudfront_path(&format!("/{key}")).unwrap(), true) {
                let wildcard = with_any_query(spelling.clone());
                prop_assert!(is_valid_cloudfront_path(&wildcard), "{wildcard}");
                prop_assert!(spelling.starts_with(wildcard.trim_end_matches('*')));
            }
        }

        #[test]
        fn s3_form_encoding_decodes_back_to_the_key(key in "\\PC{1,60}") {
            let form: String = form_encode(&key);
            prop_assert_eq!(decode_key(&form).unwrap(), key);
        }

        #[test]
        fn decoding_never_panics(raw in "\\PC{0,80}") {
            let _ = decode_key(&raw);
        }
    }

    /// What S3 does to a key before putting it in a notification.
    fn form_encode(key: &str) -> String {
        const FORM: &AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'*')
            .remove(b' ');
        utf8_percent_encode(key, FORM).to_string().replace(' ', "+")
    }
}
