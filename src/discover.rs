//! Finds, at start-up, the distributions whose origins are a bucket (`DISTRIBUTION_ID=auto`),
//! each origin's `OriginPath` becoming the key prefix of a route. Matching origin domain
//! names against the bucket is pure; only [`discover`] calls ListDistributions.

use crate::config::{Config, ConfigError, Role, Route};
use crate::send::{CloudFront, ListedDistribution};

/// Whether an origin domain name is an S3 endpoint of `bucket`: REST (global, regional,
/// legacy `s3-REGION`, dualstack, FIPS, China) or website (`s3-website-REGION`,
/// `s3-website.REGION`). Origin access control and identities use the REST names.
pub fn serves_bucket(domain_name: &str, bucket: &str) -> bool {
    let domain = domain_name.trim_end_matches('.').to_ascii_lowercase();
    let bucket = bucket.to_ascii_lowercase();
    let Some(endpoint) = domain
        .strip_prefix(bucket.as_str())
        .and_then(|rest| rest.strip_prefix('.'))
    else {
        return false;
    };
    let Some(endpoint) = endpoint
        .strip_suffix(".amazonaws.com")
        .or_else(|| endpoint.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let parts: Vec<&str> = endpoint.split('.').collect();
    match parts.as_slice() {
        ["s3"] => true,
        ["s3" | "s3-fips", "dualstack", region] | ["s3" | "s3-fips" | "s3-website", region] => {
            is_region(region)
        }
        [dashed] => dashed
            .strip_prefix("s3-website-")
            .or_else(|| dashed.strip_prefix("s3-"))
            .is_some_and(|region| is_region(region) || region == "external-1"),
        _ => false,
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: so that a bucket named like the start of
/// another (`a` against `a.s3`) never matches the other's endpoint.
fn is_region(text: &str) -> bool {
    let mut parts = text.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && rest.len() >= 2
        && rest[..rest.len() - 1]
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()))
        && rest[rest.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !rest[rest.len() - 1].is_empty()
}

/// The key prefix an origin path stands for: `/site` serves keys under `site/`.
pub fn key_prefix(origin_path: &str) -> String {
    match origin_path.trim_matches('/') {
        "" => String::new(),
        path => format!("{path}/"),
    }
}

/// The routes `template` (a route to discover) stands for among `listed`: one per origin in
/// its bucket of each distribution that can be invalidated, and the distributions left out
/// with why.
pub fn routes_for(template: &Route, listed: &[ListedDistribution]) -> (Vec<Route>, Vec<String>) {
    let bucket = template.bucket.as_deref().unwrap_or_default();
    let mut routes = Vec::new();
    let mut left_out = Vec::new();
    for distribution in listed {
        let mut origin_paths: Vec<&str> = distribution
            .origins
            .iter()
            .filter(|origin| serves_bucket(&origin.domain_name, bucket))
            .map(|origin| origin.origin_path.as_str())
            .collect();
        if origin_paths.is_empty() {
            continue;
        }
        let why_not = if !distribution.enabled {
            Some("disabled")
        } else if distribution.staging {
            Some("a staging distribution: its primary is invalidated")
        } else if distribution.multi_tenant {
            Some("multi-tenant: give its tenants as routes with tenant_id")
        } else {
            None
        };
        if let Some(why_not) = why_not {
            left_out.push(format!("{} ({why_not})", distribution.id));
            continue;
        }
        origin_paths.sort_by_key(|path| key_prefix(path));
        origin_paths.dedup_by_key(|path| key_prefix(path));
        for origin_path in origin_paths {
            routes.push(Route {
                distribution_id: distribution.id.clone(),
                key_prefix: key_prefix(origin_path),
                origin_path: Some(origin_path.to_owned()),
                ..template.clone()
            });
        }
    }
    (routes, left_out)
}

fn describe(routes: &[Route]) -> String {
    routes
        .iter()
        .map(|route| match route.origin_path.as_deref() {
            Some("") | None => route.distribution_id.clone(),
            Some(path) => format!("{} (origin path {path})", route.distribution_id),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Lists the distributions (once per role) and puts the routes found in place of those to
/// discover, logging one line per bucket. Finding none for a bucket is a configuration
/// error, as is a listing CloudFront refuses; `page_size` is CloudFront's default when `None`.
pub async fn discover(
    config: Config,
    cloudfront: &CloudFront,
    page_size: Option<i32>,
) -> Result<Config, ConfigError> {
    let mut listings: Vec<(Option<Role>, Vec<ListedDistribution>)> = Vec::new();
    let mut found = Vec::new();
    for template in &config.to_discover {
        let bucket = template.bucket.as_deref().unwrap_or_default();
        let known = listings
            .iter()
            .position(|(role, _)| role.as_ref() == template.role.as_ref());
        let index = match known {
            Some(index) => index,
            None => {
                let listed = cloudfront
                    .list_distributions(template.role.as_ref(), page_size)
                    .await
                    .map_err(|error| ConfigError {
                        variable: "DISTRIBUTION_ID",
                        problem: format!(
                            "is auto, but the distributions could not be listed: {error}"
                        ),
                    })?;
                listings.push((template.role.clone(), listed));
                listings.len() - 1
            }
        };
        let (routes, left_out) = routes_for(template, &listings[index].1);
        tracing::info!(
            bucket,
            found = %describe(&routes),
            left_out = %left_out.join(", "),
            "distributions found from the bucket"
        );
        if routes.is_empty() {
            let left_out = match left_out.is_empty() {
                true => String::new(),
                false => format!(" (left out: {})", left_out.join(", ")),
            };
            return Err(ConfigError {
                variable: "DISTRIBUTION_ID",
                problem: format!(
                    "is auto, but no distribution that can be invalidated has an origin in bucket {bucket}{left_out}: check SOURCE_BUCKET (or the route's bucket), or give the distribution id"
                ),
            });
        }
        found.extend(routes);
    }
    config.with_found(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::ListedOrigin;

    #[test]
    fn every_spelling_of_the_buckets_endpoints_matches() {
        for domain in [
            "example-site.s3.amazonaws.com",
            "example-site.s3.us-east-1.amazonaws.com",
            "example-site.s3-us-west-2.amazonaws.com",
            "example-site.s3.dualstack.eu-west-1.amazonaws.com",
            "example-site.s3-fips.us-gov-west-1.amazonaws.com",
            "example-site.s3-fips.dualstack.us-east-2.amazonaws.com",
            "example-site.s3-external-1.amazonaws.com",
            "example-site.s3.cn-north-1.amazonaws.com.cn",
            "example-site.s3-website-us-east-1.amazonaws.com",
            "example-site.s3-website.eu-west-1.amazonaws.com",
            "Example-Site.S3.AmazonAWS.com.",
        ] {
            assert!(serves_bucket(domain, "example-site"), "{domain}");
        }
    }

    #[test]
    fn other_buckets_and_other_origins_do_not() {
        for domain in [
            "other-site.s3.amazonaws.com",
            "example-site-2.s3.amazonaws.com",
            "www.example-site.s3.amazonaws.com",
            "example-site.s3.s3.amazonaws.com",
            "example-site.s3.amazonaws.com.evil.example",
            "example-site.example.com",
            "example-site",
            "s3.amazonaws.com",
            "d111111abcdef8.cloudfront.net",
            "example-site.s3-accesspoint.us-east-1.amazonaws.com",
        ] {
            assert!(!serves_bucket(domain, "example-site"), "{domain}");
        }
        // A bucket whose name holds dots matches only its own endpoint.
        assert!(serves_bucket(
            "www.example.com.s3.amazonaws.com",
            "www.example.com"
        ));
        assert!(!serves_bucket("a.s3.s3.amazonaws.com", "a"));
        assert!(serves_bucket("a.s3.s3.amazonaws.com", "a.s3"));
    }

    #[test]
    fn origin_paths_become_key_prefixes() {
        assert_eq!(key_prefix(""), "");
        assert_eq!(key_prefix("/"), "");
        assert_eq!(key_prefix("/site"), "site/");
        assert_eq!(key_prefix("/site/en/"), "site/en/");
    }

    fn listed(id: &str, origins: &[(&str, &str)]) -> ListedDistribution {
        ListedDistribution {
            id: id.into(),
            enabled: true,
            staging: false,
            multi_tenant: false,
            origins: origins
                .iter()
                .map(|(domain_name, origin_path)| ListedOrigin {
                    domain_name: domain_name.to_string(),
                    origin_path: origin_path.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn each_origin_in_the_bucket_becomes_a_route_like_its_template() {
        let template = Route {
            bucket: Some("site".into()),
            distribution_id: crate::config::AUTO.into(),
            clean_urls: true,
            ..Route::default()
        };
        let mut disabled = listed("EOFF", &[("site.s3.amazonaws.com", "")]);
        disabled.enabled = false;
        let mut staging = listed("ESTAGE", &[("site.s3.amazonaws.com", "")]);
        staging.staging = true;
        let all = [
            listed("EWHOLE", &[("site.s3.us-east-1.amazonaws.com", "")]),
            listed(
                "ETWO",
                &[
                    ("site.s3.amazonaws.com", "/en"),
                    ("api.example.com", ""),
                    ("site.s3-website-us-east-1.amazonaws.com", "/de/"),
                    ("site.s3.amazonaws.com", "/en/"),
                ],
            ),
            listed("EOTHER", &[("other.s3.amazonaws.com", "")]),
            disabled,
            staging,
        ];
        let (routes, left_out) = routes_for(&template, &all);
        let got: Vec<(&str, &str, Option<&str>, bool)> = routes
            .iter()
            .map(|r| {
                (
                    r.distribution_id.as_str(),
                    r.key_prefix.as_str(),
                    r.origin_path.as_deref(),
                    r.clean_urls,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("EWHOLE", "", Some(""), true),
                ("ETWO", "de/", Some("/de/"), true),
                ("ETWO", "en/", Some("/en"), true),
            ]
        );
        assert_eq!(
            left_out,
            [
                "EOFF (disabled)",
                "ESTAGE (a staging distribution: its primary is invalidated)"
            ]
        );
        assert_eq!(
            describe(&routes),
            "EWHOLE, ETWO (origin path /de/), ETWO (origin path /en)"
        );
    }
}
