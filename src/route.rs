//! Which distribution serves a changed object, and under which CloudFront paths.

use crate::config::{Config, Route};
use crate::event::{Change, Reason};
use crate::path::{cloudfront_path, spellings};

/// The CloudFront paths one change must invalidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub distribution_id: &'a str,
    pub paths: Vec<String>,
}

/// Picks the route with the longest key prefix that matches the change's bucket and key.
fn route_for<'a>(config: &'a Config, change: &Change) -> Option<&'a Route> {
    config
        .routes
        .iter()
        .filter(|route| {
            route
                .bucket
                .as_deref()
                .is_none_or(|bucket| bucket == change.bucket)
        })
        .filter(|route| change.key.starts_with(&route.key_prefix))
        .max_by_key(|route| route.key_prefix.len())
}

/// The distribution and paths for `change`; [`Reason::Unrouted`] when configuration leaves
/// it out, [`Reason::Key`] when its key cannot become a path.
pub fn target<'a>(config: &'a Config, change: &Change) -> Result<Target<'a>, Reason> {
    let route = route_for(config, change).ok_or_else(|| Reason::Unrouted {
        bucket: change.bucket.clone(),
        key: change.key.clone(),
    })?;
    let relative = &change.key[route.key_prefix.len()..];
    // A prefix without a trailing slash ("site") leaves "/a.html": do not double the slash.
    let separator = if relative.starts_with('/') && !route.key_prefix.is_empty() {
        ""
    } else {
        "/"
    };
    let url = format!("{}{separator}{relative}", route.path_prefix);

    let mut urls = vec![url.clone()];
    if let Some(index) = &config.index_document
        && let Some(directory) = url.strip_suffix(index.as_str())
        && directory.ends_with('/')
    {
        urls.push(directory.to_owned());
        if directory.len() > 1 {
            urls.push(directory.trim_end_matches('/').to_owned());
        }
    }
    let mut paths = Vec::with_capacity(urls.len());
    for url in &urls {
        paths.extend(spellings(
            cloudfront_path(url).map_err(Reason::Key)?,
            config.plus_alias,
        ));
    }
    paths.sort();
    paths.dedup();
    Ok(Target {
        distribution_id: &route.distribution_id,
        paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CollapsePolicy;
    use crate::event::ChangeKind;

    fn config(routes: Vec<Route>, index: Option<&str>) -> Config {
        Config {
            routes,
            index_document: index.map(str::to_owned),
            plus_alias: true,
            policy: CollapsePolicy::default(),
            metrics_namespace: None,
            defer: None,
            completion: None,
        }
    }

    fn route(bucket: Option<&str>, key_prefix: &str, path_prefix: &str, id: &str) -> Route {
        Route {
            bucket: bucket.map(str::to_owned),
            key_prefix: key_prefix.into(),
            path_prefix: path_prefix.into(),
            distribution_id: id.into(),
        }
    }

    fn change(bucket: &str, key: &str) -> Change {
        Change {
            bucket: bucket.into(),
            key: key.into(),
            kind: ChangeKind::Created,
            identity: "id".into(),
            record: "Records[0]".into(),
            message_index: None,
            second_reading: false,
            routed: None,
        }
    }

    fn paths(config: &Config, bucket: &str, key: &str) -> Vec<String> {
        target(config, &change(bucket, key)).unwrap().paths
    }

    #[test]
    fn key_maps_to_encoded_path() {
        let config = config(vec![route(None, "", "", "E1")], None);
        assert_eq!(
            paths(&config, "b", "a/b c.html"),
            ["/a/b%20c.html", "/a/b+c.html"]
        );
        assert_eq!(
            paths(&config, "b", "c++.html"),
            ["/c%2B%2B.html", "/c++.html"]
        );
        assert_eq!(
            paths(&config, "b", "c++ x.html"),
            ["/c%2B%2B%20x.html", "/c%2B%2B+x.html", "/c++%20x.html"]
        );
        assert_eq!(paths(&config, "b", "q?.html"), ["/q%3F.html"]);
    }

    #[test]
    fn prefixes_are_stripped_and_added() {
        let config = config(vec![route(None, "site/", "/blog", "E1")], None);
        assert_eq!(paths(&config, "b", "site/a.css"), ["/blog/a.css"]);
        let err = target(&config, &change("b", "other/a.css")).unwrap_err();
        assert!(matches!(err, Reason::Unrouted { .. }));
        let no_slash = self::config(vec![route(None, "site", "", "E1")], None);
        assert_eq!(paths(&no_slash, "b", "site/a.css"), ["/a.css"]);
    }

    #[test]
    fn index_document_invalidates_its_directory_both_ways() {
        let config = config(vec![route(None, "", "", "E1")], Some("index.html"));
        assert_eq!(
            paths(&config, "b", "a/index.html"),
            ["/a", "/a/", "/a/index.html"]
        );
        assert_eq!(paths(&config, "b", "index.html"), ["/", "/index.html"]);
        assert_eq!(paths(&config, "b", "a/notindex.html"), ["/a/notindex.html"]);
    }

    #[test]
    fn longest_matching_route_wins_and_buckets_are_respected() {
        let config = config(
            vec![
                route(Some("site"), "", "", "EROOT"),
                route(Some("site"), "docs/", "", "EDOCS"),
                route(Some("other"), "", "", "EOTHER"),
            ],
            None,
        );
        let id = |bucket: &str, key: &str| {
            target(&config, &change(bucket, key))
                .unwrap()
                .distribution_id
                .to_owned()
        };
        assert_eq!(id("site", "docs/a.html"), "EDOCS");
        assert_eq!(id("site", "a.html"), "EROOT");
        assert_eq!(id("other", "docs/a.html"), "EOTHER");
        assert!(target(&config, &change("unknown", "a")).is_err());
    }
}
