//! One test per rule with its exact output, and the texts that must stay as they are.

use super::*;

/// Redacts and returns owned text, for comparisons.
fn r(input: &str) -> String {
    text(input).into_owned()
}

#[test]
fn ordinary_text_is_borrowed() {
    for input in [
        "",
        "Essential container in task exited",
        "Cluster: prod\nService: api",
    ] {
        assert!(matches!(text(input), Cow::Borrowed(_)), "{input}");
    }
}

#[test]
fn environment_values_in_json_any_order_and_casing() {
    assert_eq!(
        r(
            r#"{"Environment":[{"Name":"S3_KEY","Value":"exports/a.csv"},{"value":"x1","name":"MODE"}]}"#
        ),
        r#"{"Environment":[{"Name":"S3_KEY","Value":"[redacted]"},{"value":"[redacted]","name":"MODE"}]}"#
    );
    assert_eq!(
        r(
            r#""environment": [ {"name": "A", "value": "b"} ], "Attachments":[{"Name":"subnetId","Value":"subnet-1"}]"#
        ),
        r#""environment": [ {"name": "A", "value": "[redacted]"} ], "Attachments":[{"Name":"subnetId","Value":"subnet-1"}]"#
    );
}

#[test]
fn environment_values_cut_by_the_end_of_the_text() {
    assert_eq!(
        r(
            r#"{"Overrides":{"ContainerOverrides":[{"Environment":[{"Name":"STRIPE_SECRET_KEY","Value":"sk_live_EXAMPLE"},{"Name":"FLAG","Value":"xxxx"#
        ),
        r#"{"Overrides":{"ContainerOverrides":[{"Environment":[{"Name":"STRIPE_SECRET_KEY","Value":"[redacted]"},{"Name":"FLAG","Value":"[redacted]"#
    );
}

#[test]
fn environment_values_with_brackets_and_quotes_inside() {
    assert_eq!(
        r(
            r#"{"Environment":[{"Name":"HOSTS","Value":"[\"a\"]}]"},{"Name":"B","Value":"c"}],"Cpu":"1"}"#
        ),
        r#"{"Environment":[{"Name":"HOSTS","Value":"[redacted]"},{"Name":"B","Value":"[redacted]"}],"Cpu":"1"}"#
    );
}

#[test]
fn environment_values_in_escaped_json() {
    assert_eq!(
        r(
            r#"{"Cause":"{\"Environment\":[{\"Name\":\"DB_PASSWORD\",\"Value\":\"hunter2\"}],\"ExitCode\":1}"}"#
        ),
        r#"{"Cause":"{\"Environment\":[{\"Name\":\"DB_PASSWORD\",\"Value\":\"[redacted]\"}],\"ExitCode\":1}"}"#
    );
}

#[test]
fn json_fields_named_secret_any_casing_and_separator() {
    assert_eq!(
        r(
            r#"{"db_password": "x y", "apiKey":"k1", "Client-Secret":"s", "access.key":"a", "PRIVATEKEY":"p", "sessionToken":"t", "pin_pwd":1234, "TaskArn":"arn:aws:ecs:x"}"#
        ),
        r#"{"db_password": "[redacted]", "apiKey":"[redacted]", "Client-Secret":"[redacted]", "access.key":"[redacted]", "PRIVATEKEY":"[redacted]", "sessionToken":"[redacted]", "pin_pwd":[redacted], "TaskArn":"arn:aws:ecs:x"}"#
    );
    assert_eq!(
        r(r#"{"auth":"dXNlcjpw","author":"Ann","Authorization":"Bearer abc"}"#),
        r#"{"auth":"[redacted]","author":"Ann","Authorization":"[redacted]"}"#
    );
}

#[test]
fn json_fields_in_escaped_json_at_any_depth() {
    assert_eq!(
        r(r#"{"Cause":"{\"password\":\"x\\\"y\",\"user\":\"u\"}"}"#),
        r#"{"Cause":"{\"password\":\"[redacted]\",\"user\":\"u\"}"}"#
    );
    assert_eq!(
        r(r#"{"Cause":"{\"Cause\":\"{\\\"token\\\":\\\"t1\\\",\\\"a\\\":1}\"}"}"#),
        r#"{"Cause":"{\"Cause\":\"{\\\"token\\\":\\\"[redacted]\\\",\\\"a\\\":1}\"}"}"#
    );
}

#[test]
fn a_json_field_cut_by_the_end_of_the_text() {
    assert_eq!(r(r#"{"secret":"abc"#), r#"{"secret":"[redacted]"#);
}

#[test]
fn key_equals_value_in_plain_text() {
    assert_eq!(
        r("run --password=hunter2 DB_PASSWORD=p4ss API_TOKEN='a b' https://x/?token=t&page=2"),
        "run --password=[redacted] DB_PASSWORD=[redacted] API_TOKEN='[redacted]' https://x/?token=[redacted]&page=2"
    );
    assert_eq!(
        r("Server=db;Password=abc;Database=app Authorization=Bearer tok"),
        "Server=db;Password=[redacted];Database=app Authorization=Bearer [redacted]"
    );
}

#[test]
fn key_colon_value_in_plain_text() {
    assert_eq!(
        r(
            "password: hunter2\nX-Auth-Token: a-b\nDB_PASSWORD: l3tters\nAuthorization: Basic dXNlcg=="
        ),
        "password: [redacted]\nX-Auth-Token: [redacted]\nDB_PASSWORD: [redacted]\nAuthorization: Basic [redacted]"
    );
    // A plain word after a colon stays: AWS's own messages read like that ("registry auth: execution").
    assert_eq!(r("password: letters"), "password: letters");
}

#[test]
fn aws_error_codes_and_prose_with_a_colon_stay() {
    for input in [
        "ExpiredTokenException: The security token included in the request is expired",
        "NoCredentialProviders: no valid providers in chain. Deprecated.",
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s)",
        "failed to fetch secret: arn:aws:secretsmanager:eu-central-1:012345678900:secret:prod/db-AbCdEf",
        "not authorized to perform: secretsmanager:GetSecretValue on resource",
    ] {
        assert_eq!(r(input), input);
    }
}

#[test]
fn presigned_url_credentials() {
    assert_eq!(
        r(
            "https://b.s3.amazonaws.com/l?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAX%2F2026&X-Amz-Security-Token=IQo%2Bz&X-Amz-Signature=ab12 failed"
        ),
        "https://b.s3.amazonaws.com/l?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]&X-Amz-Security-Token=[redacted]&X-Amz-Signature=[redacted] failed"
    );
    assert_eq!(
        r(
            "/o?AWSAccessKeyId=K&Expires=1&Signature=s%3D /g?X-Goog-Credential=c&X-Goog-Signature=g /a?sv=2022&sig=Zm9v"
        ),
        "/o?AWSAccessKeyId=[redacted]&Expires=1&Signature=[redacted] /g?X-Goog-Credential=[redacted]&X-Goog-Signature=[redacted] /a?sv=2022&sig=[redacted]"
    );
}

#[test]
fn aws_keys() {
    assert_eq!(
        r("key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A, role AROAY34FZKBOKMUTVV7A"),
        "key [redacted] and [redacted], role AROAY34FZKBOKMUTVV7A"
    );
    assert_eq!(
        r("SecretAccessKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "SecretAccessKey: [redacted]"
    );
}

#[test]
fn slack_tokens_and_webhooks() {
    assert_eq!(
        r("xoxb-1234567890-abcdefghij https://hooks.slack.com/services/T0/B0/XyZ"),
        "[redacted] https://hooks.slack.com/services/[redacted]"
    );
}

#[test]
fn github_tokens() {
    let classic = format!("ghp_{}", "a1".repeat(18));
    let fine = format!("github_pat_{}", "B2_".repeat(8));
    assert_eq!(r(&format!("{classic} {fine}")), "[redacted] [redacted]");
}

#[test]
fn stripe_secret_keys_but_not_publishable_ones() {
    assert_eq!(
        r("sk_live_51Habc123 rk_test_9xYz1234 whsec_abcdefghijklmnop12 pk_live_51Habc123"),
        "[redacted] [redacted] [redacted] pk_live_51Habc123"
    );
}

#[test]
fn jwts() {
    assert_eq!(
        r("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_-1 end"),
        "token [redacted] end"
    );
}

#[test]
fn pem_private_keys_whole_or_cut() {
    assert_eq!(
        r("a -----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc\n-----END RSA PRIVATE KEY----- b"),
        "a -----BEGIN RSA PRIVATE KEY-----[redacted]-----END RSA PRIVATE KEY----- b"
    );
    assert_eq!(
        r("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN"),
        "-----BEGIN PRIVATE KEY-----[redacted]"
    );
    assert_eq!(
        r(r#"{"k":"-----BEGIN EC PRIVATE KEY-----\nMHc\n","n":1}"#),
        r#"{"k":"-----BEGIN EC PRIVATE KEY-----[redacted]","n":1}"#
    );
}

#[test]
fn url_userinfo_passwords_keep_the_user() {
    assert_eq!(
        r("postgres://exporter:S3cr3t-Pa55w0rd@db.internal:5432/app https://host:8443/x@y"),
        "postgres://exporter:[redacted]@db.internal:5432/app https://host:8443/x@y"
    );
}

#[test]
fn google_api_keys_and_bearer_tokens() {
    let key = format!("AIza{}", "Sy0_".repeat(9).get(..35).unwrap_or_default());
    assert_eq!(r(&format!("key={key}")), "key=[redacted]");
    assert_eq!(r(&format!("k {key}")), "k [redacted]");
    assert_eq!(
        r("curl -H 'Authorization: Bearer abcdefghijklmnop1234' and a bearer token"),
        "curl -H 'Authorization: Bearer [redacted]' and a bearer token"
    );
}

#[test]
fn aws_reasons_arns_and_prose_stay() {
    for input in [
        "Essential container in task exited",
        "OutOfMemoryError: Container killed due to memory usage",
        "CannotPullContainerError: failed to resolve ref docker.io/library/app:1: 401 Unauthorized",
        "The security token included in the request is invalid",
        "arn:aws:ecs:eu-central-1:012345678900:task/payments/0b9e6a7c1d2e4f308a5b6c7d8e9f0a11",
        "Failed containers: app (exit 137: OutOfMemoryError)",
        r#"{"TaskArn":"arn:aws:ecs:x","Secrets":[{"Name":"DB","ValueFrom":"arn:aws:ssm:x"}],"ExitCode":1}"#,
        "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:x)",
    ] {
        assert_eq!(r(input), input);
    }
}

#[test]
fn aws_stop_reasons_of_every_fixture_stay() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        let Ok(body) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) else {
            continue;
        };
        for pointer in ["/detail/stoppedReason", "/detail/containers/0/reason"] {
            if let Some(reason) = value.pointer(pointer).and_then(|v| v.as_str()) {
                assert_eq!(r(reason), reason, "{}", path.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 20, "only {seen} reasons");
}

#[test]
fn overlapping_rules_give_one_marker() {
    assert_eq!(
        r(
            r#"{"Environment":[{"Name":"K","Value":"AKIAIOSFODNN7EXAMPLE"}],"password":"sk_live_abcdefgh1"}"#
        ),
        r#"{"Environment":[{"Name":"K","Value":"[redacted]"}],"password":"[redacted]"}"#
    );
}

#[test]
fn nested_environment_arrays_are_read_once_and_fully() {
    assert_eq!(
        r(r#"{"env":[{"name":"a","value":"1","env":[{"name":"b","value":"2"}]}],"value":"3"}"#),
        r#"{"env":[{"name":"a","value":"[redacted]","env":[{"name":"b","value":"[redacted]"}]}],"value":"3"}"#
    );
    let deep = format!("{}{}", r#"{"env":["#.repeat(5_000), r#"{"value":"x"}"#);
    assert!(r(&deep).ends_with(r#"{"value":"[redacted]"}"#));
}

#[test]
fn percent_encoded_presigned_url_credentials() {
    assert_eq!(
        r(
            "GET https://b.s3.amazonaws.com/l?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature%3D8f3c2b1a0e9d redirect=https%3A%2F%2Fb.s3.amazonaws.com%2Fk%3FX-Amz-Security-Token%3DIQoJb3JpZ2luX2Vj%2Bz%26X-Amz-Signature%3D0123456789abcdef%26x%3D1"
        ),
        "GET https://b.s3.amazonaws.com/l?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature%3D[redacted] redirect=https%3A%2F%2Fb.s3.amazonaws.com%2Fk%3FX-Amz-Security-Token%3D[redacted]%26X-Amz-Signature%3D[redacted]%26x%3D1"
    );
    assert_eq!(
        r("x-amz-signature%3dabc%26next"),
        "x-amz-signature%3d[redacted]%26next"
    );
}

#[test]
fn url_userinfo_with_an_empty_user() {
    assert_eq!(
        r("Error connecting to redis://:p4ssw0rdXYZ@cache.internal:6379/0"),
        "Error connecting to redis://:[redacted]@cache.internal:6379/0"
    );
    for stays in [
        "http://host:8080/path",
        "https://host:8443/x@y",
        "GET http://10.0.0.1:80/health?x=a@b failed",
        "see https://example.com/@user",
        "ws://:8080/path",
    ] {
        assert_eq!(r(stays), stays);
    }
}

#[test]
fn environment_maps_any_escaping_level() {
    assert_eq!(
        r(
            r#"{"FunctionConfiguration":{"Environment":{"Variables":{"DB_URL":"postgres://a@b/c","MODE":"x, \"y\"","N":{"k":"v"}},"Error":{"Message":"m"}},"Timeout":3}}"#
        ),
        r#"{"FunctionConfiguration":{"Environment":{"Variables":{"DB_URL":"[redacted]","MODE":"[redacted]","N":{"k":"v"}},"Error":{"Message":"m"}},"Timeout":3}}"#
    );
    assert_eq!(
        r(
            r#"{"Cause":"{\"Environment\":{\"Variables\":{\"STRIPE\":\"abc:\",\"B\":\"c\"}},\"Role\":\"r\"}"}"#
        ),
        r#"{"Cause":"{\"Environment\":{\"Variables\":{\"STRIPE\":\"[redacted]\",\"B\":\"[redacted]\"}},\"Role\":\"r\"}"}"#
    );
    assert_eq!(
        r(r#"{"environmentVariables": {"A": "b", "C": "d"}, "e": "f"}"#),
        r#"{"environmentVariables": {"A": "[redacted]", "C": "[redacted]"}, "e": "f"}"#
    );
    // Cut by the end of the text.
    assert_eq!(
        r(r#"{"Environment":{"Variables":{"A":"bbbb"#),
        r#"{"Environment":{"Variables":{"A":"[redacted]"#
    );
    // An environment object without a map of variables stays.
    let stays = r#"{"environment":{"type":"LINUX_CONTAINER","image":"aws/codebuild"}}"#;
    assert_eq!(r(stays), stays);
}
