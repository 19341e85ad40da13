//! Which distributions serve a changed object, and under which CloudFront paths.

use crate::config::{Config, Role, Route};
use crate::event::{Change, Reason};
use crate::path::{cloudfront_path, escaped_spelling, spellings, with_any_query};

/// The CloudFront paths one change must invalidate on one distribution (or tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub distribution_id: &'a str,
    pub tenant_id: Option<&'a str>,
    pub role: Option<&'a Role>,
    pub paths: Vec<String>,
}

/// The routes that serve the change: of those matching its bucket and key, the most specific
/// ([`Route::rank`]: the longest configured key prefix, then naming the bucket), all of them
/// on a tie. Routes found from the bucket (`DISTRIBUTION_ID=auto`) rank as their configured
/// route, so every distribution found serving the key gets it.
fn routes_for<'a>(config: &'a Config, change: &Change) -> impl Iterator<Item = &'a Route> {
    let matching = |route: &&Route| {
        route
            .bucket
            .as_deref()
            .is_none_or(|bucket| bucket == change.bucket)
            && (route.key_prefix.is_empty() || change.key.starts_with(&route.key_prefix))
    };
    // Two passes over the few routes rather than a list of them for every change.
    let best = config.routes.iter().filter(matching).map(Route::rank).max();
    config
        .routes
        .iter()
        .filter(matching)
        .filter(move |route| Some(route.rank()) == best)
}

/// Where and under which paths `change` is invalidated: one target per route that serves it.
/// [`Reason::Unrouted`] when configuration leaves it out, [`Reason::SkippedByPattern`] when
/// every route serving it skips its key, [`Reason::Key`] when its key cannot become a path.
pub fn targets<'a>(config: &'a Config, change: &Change) -> Result<Vec<Target<'a>>, Reason> {
    let mut routes = routes_for(config, change).peekable();
    if routes.peek().is_none() {
        return Err(Reason::Unrouted {
            bucket: change.bucket.clone(),
            key: change.key.clone(),
        });
    }
    let mut targets = Vec::with_capacity(1);
    let mut skipped_by = None;
    for route in routes {
        if let Some(pattern) = route.skip_keys.matching(&change.key) {
            skipped_by.get_or_insert(pattern);
            continue;
        }
        targets.push(Target {
            distribution_id: &route.distribution_id,
            tenant_id: route.tenant_id.as_deref(),
            role: route.role.as_ref(),
            paths: paths(config, route, &change.key)?,
        });
    }
    match skipped_by {
        Some(pattern) if targets.is_empty() => Err(Reason::SkippedByPattern {
            key: change.key.clone(),
            pattern: pattern.to_owned(),
        }),
        _ => Ok(targets),
    }
}

/// The paths of `key` on `route`: the URL, its index-document and clean-URL aliases, each in
/// every spelling, each a wildcard with `query_strings`.
fn paths(config: &Config, route: &Route, key: &str) -> Result<Vec<String>, Reason> {
    let relative = &key[route.key_prefix.len()..];
    // A prefix without a trailing slash ("site") leaves "/a.html": do not double the slash.
    let separator = if relative.starts_with('/') && !route.key_prefix.is_empty() {
        ""
    } else {
        "/"
    };
    let mut url = String::with_capacity(route.path_prefix.len() + separator.len() + relative.len());
    url.push_str(&route.path_prefix);
    url.push_str(separator);
    url.push_str(relative);

    // The URL and its aliases, as slices of it: at most three.
    let mut urls: [Option<&str>; 3] = [Some(&url), None, None];
    let index_directory = config.index_document.as_deref().and_then(|index| {
        url.strip_suffix(index)
            .filter(|directory| directory.ends_with('/'))
    });
    if let Some(directory) = index_directory {
        urls[1] = Some(directory);
        if directory.len() > 1 {
            urls[2] = Some(directory.trim_end_matches('/'));
        }
    } else if route.clean_urls
        && let Some(stem) = url
            .strip_suffix(".html")
            .or_else(|| url.strip_suffix(".htm"))
        && !stem.ends_with('/')
    {
        // An index document's clean URLs are its directory's, given above.
        urls[1] = Some(stem);
    }
    // Three spellings at most for each.
    let mut paths = Vec::with_capacity(9);
    for (n, url) in urls.into_iter().enumerate() {
        let Some(url) = url else { continue };
        let mut path = cloudfront_path(url).map_err(Reason::Key)?;
        if path == "/*" && !config.policy.allow_root {
            // Never the whole distribution unasked, nor so the rest of the batch folds into
            // it: the exact spelling where there is one, or the key fails. An alias without
            // one (the clean URL `/.` of `..html`) is a URL clients never send: left out.
            match escaped_spelling(url) {
                Some(exact) => path = exact,
                None if n > 0 => continue,
                None => {
                    return Err(Reason::RootWildcard {
                        key: key.to_owned(),
                    });
                }
            }
        }
        paths.extend(spellings(path, config.plus_alias));
    }
    if route.query_strings {
        // The home page's query variants need `/*`, the whole site: only where it is allowed.
        paths = paths
            .into_iter()
            .map(|path| match path.as_str() {
                "/" if !config.policy.allow_root => path,
                _ => with_any_query(path),
            })
            .collect();
    }
    // Distinct, in no order (the planner orders all paths once). Aliases of one URL never
    // collide, and a handful of paths is deduplicated faster by looking than by sorting.
    let mut distinct: Vec<String> = Vec::with_capacity(paths.len());
    for path in paths {
        if !distinct.contains(&path) {
            distinct.push(path);
        }
    }
    Ok(distinct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CollapsePolicy, SkipKeys};
    use crate::event::ChangeKind;
    use proptest::prelude::*;

    fn config(routes: Vec<Route>, index: Option<&str>) -> Config {
        Config {
            routes,
            to_discover: Vec::new(),
            index_document: index.map(str::to_owned),
            plus_alias: true,
            policy: CollapsePolicy::default(),
            metrics_namespace: None,
            defer: None,
            completion: None,
            guards: Default::default(),
        }
    }

    fn route(bucket: Option<&str>, key_prefix: &str, path_prefix: &str, id: &str) -> Route {
        Route {
            bucket: bucket.map(str::to_owned),
            key_prefix: key_prefix.into(),
            path_prefix: path_prefix.into(),
            distribution_id: id.into(),
            ..Route::default()
        }
    }

    fn change(bucket: &str, key: &str) -> Change {
        Change {
            bucket: bucket.into(),
            key: key.into(),
            kind: ChangeKind::Created,
            identity: [0; 32],
            record: "Records[0]".into(),
            message_index: None,
            second_reading: false,
            routed: None,
            source: Default::default(),
        }
    }

    fn paths(config: &Config, bucket: &str, key: &str) -> Vec<String> {
        let mut targets = targets(config, &change(bucket, key)).unwrap();
        assert_eq!(targets.len(), 1);
        let mut paths = targets.remove(0).paths;
        paths.sort();
        paths
    }

    fn skipping(patterns: &[&str]) -> SkipKeys {
        SkipKeys::new(patterns.iter().map(|p| p.to_string()).collect()).unwrap()
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
        let err = targets(&config, &change("b", "other/a.css")).unwrap_err();
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
    fn clean_urls_alias_html_keys_only() {
        let clean = Route {
            clean_urls: true,
            ..route(None, "site/", "/en", "E1")
        };
        let config = config(vec![clean.clone()], None);
        assert_eq!(
            paths(&config, "b", "site/blog/post.html"),
            ["/en/blog/post", "/en/blog/post.html"]
        );
        assert_eq!(
            paths(&config, "b", "site/old/page.htm"),
            ["/en/old/page", "/en/old/page.htm"]
        );
        assert_eq!(
            paths(&config, "b", "site/my post.html"),
            [
                "/en/my%20post",
                "/en/my%20post.html",
                "/en/my+post",
                "/en/my+post.html"
            ]
        );
        for not_html in [
            "site/a.css",
            "site/a.HTML",
            "site/a.html.gz",
            "site/dir/.html",
        ] {
            assert_eq!(paths(&config, "b", not_html).len(), 1, "{not_html}");
        }
        // With INDEX_DOCUMENT an index page's clean URLs are its directory's.
        let with_index = self::config(vec![clean], Some("index.html"));
        assert_eq!(
            paths(&with_index, "b", "site/about/index.html"),
            ["/en/about", "/en/about/", "/en/about/index.html"]
        );
        assert_eq!(
            paths(&with_index, "b", "site/about.html"),
            ["/en/about", "/en/about.html"]
        );
    }

    #[test]
    fn query_strings_send_every_path_as_a_wildcard() {
        let config = config(
            vec![Route {
                query_strings: true,
                clean_urls: true,
                ..route(None, "", "", "E1")
            }],
            Some("index.html"),
        );
        assert_eq!(
            paths(&config, "b", "css/a b.css"),
            ["/css/a%20b.css*", "/css/a+b.css*"]
        );
        assert_eq!(
            paths(&config, "b", "blog/index.html"),
            ["/blog*", "/blog/*", "/blog/index.html*"]
        );
        assert_eq!(paths(&config, "b", "post.html"), ["/post*", "/post.html*"]);
        assert_eq!(paths(&config, "b", "people/~alice/a.html"), ["/people/*"]);
        // The home page: `/*` is the whole site, sent only with WILDCARD_ALLOW_ROOT.
        assert_eq!(paths(&config, "b", "index.html"), ["/", "/index.html*"]);
        let mut whole_site = config;
        whole_site.policy.allow_root = true;
        assert_eq!(
            paths(&whole_site, "b", "index.html"),
            ["/*", "/index.html*"]
        );
    }

    #[test]
    fn skipped_keys_name_the_pattern() {
        let config = config(
            vec![Route {
                skip_keys: skipping(&["assets/**", "**/*.map"]),
                ..route(Some("site"), "", "", "E1")
            }],
            None,
        );
        assert_eq!(
            targets(&config, &change("site", "js/app.js.map")),
            Err(Reason::SkippedByPattern {
                key: "js/app.js.map".into(),
                pattern: "**/*.map".into()
            })
        );
        assert_eq!(
            targets(&config, &change("site", "assets/a.map"))
                .unwrap_err()
                .to_string(),
            "key \"assets/a.map\" matches SKIP_KEYS pattern \"assets/**\": not invalidated"
        );
        assert_eq!(paths(&config, "site", "js/app.js"), ["/js/app.js"]);
        // Outside the route, a key is unrouted whatever its name.
        assert!(matches!(
            targets(&config, &change("other", "assets/a.js")),
            Err(Reason::Unrouted { .. })
        ));
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
            let targets = targets(&config, &change(bucket, key)).unwrap();
            assert_eq!(targets.len(), 1);
            targets[0].distribution_id.to_owned()
        };
        assert_eq!(id("site", "docs/a.html"), "EDOCS");
        assert_eq!(id("site", "a.html"), "EROOT");
        assert_eq!(id("other", "docs/a.html"), "EOTHER");
        assert!(targets(&config, &change("unknown", "a")).is_err());
        // A route naming the bucket outranks one for any bucket; equals all get the change.
        let config = self::config(
            vec![
                route(None, "", "", "EANY"),
                route(Some("site"), "", "", "ESITE"),
                route(Some("site"), "", "", "ESTAGING"),
            ],
            None,
        );
        let ids = |bucket: &str| -> Vec<String> {
            targets(&config, &change(bucket, "a.html"))
                .unwrap()
                .iter()
                .map(|t| t.distribution_id.to_owned())
                .collect()
        };
        assert_eq!(ids("site"), ["ESITE", "ESTAGING"]);
        assert_eq!(ids("elsewhere"), ["EANY"]);
    }

    #[test]
    fn every_distribution_found_serving_a_key_gets_it() {
        let found = |id: &str, origin_path: &str, key_prefix: &str| Route {
            origin_path: Some(origin_path.into()),
            ..route(Some("site"), key_prefix, "", id)
        };
        let config = config(
            vec![
                found("EWHOLE", "", ""),
                found("ESUB", "/site", "site/"),
                Route {
                    tenant_id: Some("dt_1".into()),
                    ..route(Some("site"), "", "", "EMULTI")
                },
            ],
            None,
        );
        let targets = targets(&config, &change("site", "site/a.html")).unwrap();
        let got: Vec<(&str, Option<&str>, Vec<String>)> = targets
            .iter()
            .map(|t| (t.distribution_id, t.tenant_id, t.paths.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("EWHOLE", None, vec!["/site/a.html".to_string()]),
                ("ESUB", None, vec!["/a.html".to_string()]),
                ("EMULTI", Some("dt_1"), vec!["/site/a.html".to_string()]),
            ]
        );
        // A route that skips the key leaves it to the others.
        let mut config = config;
        config.routes[0].skip_keys = skipping(&["site/**"]);
        let ids: Vec<&str> = super::targets(&config, &change("site", "site/a.html"))
            .unwrap()
            .iter()
            .map(|t| t.distribution_id)
            .collect();
        assert_eq!(ids, ["ESUB", "EMULTI"]);
    }

    proptest! {
        #[test]
        fn a_skipped_key_never_gets_a_path(
            keys in prop::collection::vec("(assets/|img/|)([a-c]{1,2}/){0,2}[a-d]{1,3}(\\.map|\\.js|\\.html)", 1..40),
        ) {
            let config = config(
                vec![Route {
                    skip_keys: skipping(&["assets/**", "**/*.map"]),
                    clean_urls: true,
                    ..route(None, "", "", "E1")
                }],
                Some("index.html"),
            );
            for key in &keys {
                let skipped = key.starts_with("assets/") || key.ends_with(".map");
                match targets(&config, &change("b", key)) {
                    Err(Reason::SkippedByPattern { pattern, .. }) => {
                        prop_assert!(skipped, "{key} skipped by {pattern}");
                        prop_assert!(pattern == "assets/**" || pattern == "**/*.map");
                    }
                    Ok(targets) => prop_assert!(!skipped && !targets.is_empty(), "{key}"),
                    Err(other) => prop_assert!(false, "{key}: {other}"),
                }
            }
        }

        #[test]
        fn a_clean_url_alias_only_for_html_keys(key in "([a-c ]{1,2}/){0,2}[a-d.]{1,4}(\\.html|\\.htm|\\.css|\\.HTML|)") {
            let clean = config(vec![Route { clean_urls: true, ..route(None, "", "", "E1") }], None);
            let plain = config(vec![route(None, "", "", "E1")], None);
            // A key like `.` has no path but the root wildcard, which is not allowed here.
            prop_assume!(targets(&plain, &change("b", &key)).is_ok());
            let with = paths(&clean, "b", &key);
            let without = paths(&plain, "b", &key);
            let html = key.ends_with(".html") || key.ends_with(".htm");
            let stem = key.trim_end_matches(".html").trim_end_matches(".htm");
            // A stem like `.` has no alias but the root wildcard: it gets none.
            let has_name = !stem.is_empty()
                && !stem.ends_with('/')
                && cloudfront_path(&format!("/{stem}")).is_ok_and(|alias| alias != "/*");
            if html && has_name && !without.iter().any(|p| p.ends_with('*')) {
                prop_assert!(with.len() > without.len(), "{key}: {with:?}");
                for path in &without {
                    prop_assert!(with.contains(path));
                }
                let alias = cloudfront_path(&format!("/{stem}")).unwrap();
                prop_assert!(with.contains(&alias), "{key}: {alias} not in {with:?}");
            } else if !html {
                prop_assert_eq!(with, without);
            }
        }
    }
}
