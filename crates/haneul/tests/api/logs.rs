//! CloudWatch Logs through aws-sdk-cloudwatchlogs: groups, streams, PutLogEvents' batch
//! rules, GetLogEvents paging, FilterLogEvents' pattern syntax, filters, tags, Insights
//! queries, retention on a short clock, and reset.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::{InputLogEvent, LogGroupClass, MetricTransformation, OrderBy};
use aws_sdk_cloudwatchlogs::Client;
use haneul_testkit::Haneul;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn code<E, R>(e: &aws_sdk_cloudwatchlogs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string)
        .unwrap_or_else(|| "<not a service error>".into())
}

fn event(ts: i64, message: &str) -> InputLogEvent {
    InputLogEvent::builder().timestamp(ts).message(message).build().unwrap()
}

async fn group_with_streams(logs: &Client, group: &str, streams: &[&str]) {
    logs.create_log_group().log_group_name(group).send().await.unwrap();
    for s in streams {
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(*s)
            .send()
            .await
            .unwrap();
    }
}

async fn put(logs: &Client, group: &str, stream: &str, events: Vec<InputLogEvent>) {
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
}

async fn filter(logs: &Client, group: &str, pattern: &str) -> Vec<String> {
    let out = logs
        .filter_log_events()
        .log_group_name(group)
        .filter_pattern(pattern)
        .send()
        .await
        .unwrap_or_else(|e| panic!("filter {pattern}: {e:?}"));
    out.events()
        .iter()
        .filter_map(|e| e.message().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn groups_and_streams_are_created_described_and_deleted() {
    let h = Haneul::start();
    let logs = h.logs();
    logs.create_log_group()
        .log_group_name("/ecs/web")
        .log_group_class(LogGroupClass::InfrequentAccess)
        .tags("team", "web")
        .send()
        .await
        .unwrap();
    logs.create_log_group().log_group_name("/ecs/api").send().await.unwrap();
    logs.create_log_group().log_group_name("/other").send().await.unwrap();
    let e = logs
        .create_log_group()
        .log_group_name("/ecs/web")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceAlreadyExistsException");
    let e = logs
        .create_log_group()
        .log_group_name("bad name!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");

    let d = logs
        .describe_log_groups()
        .log_group_name_prefix("/ecs/")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = d.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
    assert_eq!(names, ["/ecs/api", "/ecs/web"]);
    let web = &d.log_groups()[1];
    assert_eq!(web.log_group_class(), Some(&LogGroupClass::InfrequentAccess));
    assert_eq!(
        web.arn(),
        Some("arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web:*")
    );
    assert_eq!(
        web.log_group_arn(),
        Some("arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web")
    );
    let d = logs
        .describe_log_groups()
        .log_group_name_pattern("WEB")
        .send()
        .await
        .unwrap();
    assert_eq!(d.log_groups().len(), 1, "patterns match case-insensitively");
    let page = logs.describe_log_groups().limit(2).send().await.unwrap();
    assert_eq!(page.log_groups().len(), 2);
    let rest = logs
        .describe_log_groups()
        .next_token(page.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.log_groups()[0].log_group_name(), Some("/other"));

    let e = logs
        .put_retention_policy()
        .log_group_name("/ecs/web")
        .retention_in_days(8)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    logs.put_retention_policy()
        .log_group_name("/ecs/web")
        .retention_in_days(7)
        .send()
        .await
        .unwrap();

    let e = logs
        .create_log_stream()
        .log_group_name("/nope")
        .log_stream_name("s")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    for s in ["b", "a", "c"] {
        logs.create_log_stream()
            .log_group_name("/ecs/web")
            .log_stream_name(s)
            .send()
            .await
            .unwrap();
    }
    let e = logs
        .create_log_stream()
        .log_group_name("/ecs/web")
        .log_stream_name("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceAlreadyExistsException");
    let e = logs
        .create_log_stream()
        .log_group_name("/ecs/web")
        .log_stream_name("x:y")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let t = now_ms();
    put(&logs, "/ecs/web", "b", vec![event(t - 1000, "late")]).await;
    put(&logs, "/ecs/web", "c", vec![event(t - 5000, "early")]).await;
    let by_name = logs
        .describe_log_streams()
        .log_group_name("/ecs/web")
        .send()
        .await
        .unwrap();
    let names: Vec<_> = by_name
        .log_streams()
        .iter()
        .filter_map(|s| s.log_stream_name())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(by_name.log_streams()[1].last_event_timestamp(), Some(t - 1000));
    assert_eq!(
        by_name.log_streams()[0].first_event_timestamp(),
        None,
        "a has no events"
    );
    let by_time = logs
        .describe_log_streams()
        .log_group_name("/ecs/web")
        .order_by(OrderBy::LastEventTime)
        .descending(true)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = by_time
        .log_streams()
        .iter()
        .filter_map(|s| s.log_stream_name())
        .collect();
    assert_eq!(names, ["b", "c", "a"]);
    let e = logs
        .describe_log_streams()
        .log_group_name("/ecs/web")
        .order_by(OrderBy::LastEventTime)
        .log_stream_name_prefix("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");

    logs.delete_log_stream()
        .log_group_name("/ecs/web")
        .log_stream_name("b")
        .send()
        .await
        .unwrap();
    assert_eq!(
        filter(&logs, "/ecs/web", "").await,
        ["early"],
        "a deleted stream's events are gone"
    );
    logs.delete_log_group().log_group_name("/ecs/web").send().await.unwrap();
    let e = logs
        .delete_log_group()
        .log_group_name("/ecs/web")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    // A group made again under the old name starts empty.
    group_with_streams(&logs, "/ecs/web", &["c"]).await;
    assert!(filter(&logs, "/ecs/web", "").await.is_empty());
}

#[tokio::test]
async fn put_log_events_applies_the_batch_rules() {
    let h = Haneul::start();
    let logs = h.logs();
    group_with_streams(&logs, "g", &["s"]).await;
    logs.put_retention_policy()
        .log_group_name("g")
        .retention_in_days(1)
        .send()
        .await
        .unwrap();
    let now = now_ms();
    let day = 24 * 3600 * 1000;
    // Too old (15 days), expired (2 days, retention 1), fine ×2, too new (3 h ahead): one batch
    // may not span more than 24 h, so the old ones go in a batch of their own.
    let r = logs
        .put_log_events()
        .log_group_name("g")
        .log_stream_name("s")
        .log_events(event(now - 2 * day - 10, "expired"))
        .log_events(event(now - 2 * day, "expired too"))
        .send()
        .await
        .unwrap();
    let info = r.rejected_log_events_info().unwrap();
    assert_eq!(info.expired_log_event_end_index(), Some(1));
    let r = logs
        .put_log_events()
        .log_group_name("g")
        .log_stream_name("s")
        .log_events(event(now - 15 * day, "too old"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.rejected_log_events_info().unwrap().too_old_log_event_end_index(),
        Some(0)
    );
    let r = logs
        .put_log_events()
        .log_group_name("g")
        .log_stream_name("s")
        .log_events(event(now - 2000, "one"))
        .log_events(event(now - 1000, "two"))
        .log_events(event(now + 3 * 3600 * 1000, "future"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.rejected_log_events_info().unwrap().too_new_log_event_start_index(),
        Some(2)
    );
    let e = logs
        .put_log_events()
        .log_group_name("g")
        .log_stream_name("s")
        .log_events(event(now - day, "a"))
        .log_events(event(now - 5 * 3600 * 1000 + day, "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException", "a batch spanning more than 24 h");
    let big = "x".repeat(600 * 1024);
    let e = logs
        .put_log_events()
        .log_group_name("g")
        .log_stream_name("s")
        .log_events(event(now, &big))
        .log_events(event(now, &big))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException", "over 1 MiB");
    let e = logs
        .put_log_events()
        .log_group_name("g")
        .log_stream_name("nope")
        .log_events(event(now, "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    assert_eq!(
        filter(&logs, "g", "").await,
        ["one", "two"],
        "only the accepted events were stored"
    );
}

#[tokio::test]
async fn get_log_events_pages_forward_and_backward() {
    let h = Haneul::start();
    let logs = h.logs();
    group_with_streams(&logs, "g", &["s"]).await;
    let t = now_ms() - 60_000;
    put(
        &logs,
        "g",
        "s",
        (0..5).map(|i| event(t + i * 1000, &format!("m{i}"))).collect(),
    )
    .await;
    let get = |token: Option<String>, head: Option<bool>| {
        let logs = logs.clone();
        async move {
            logs.get_log_events()
                .log_group_name("g")
                .log_stream_name("s")
                .limit(2)
                .set_next_token(token)
                .set_start_from_head(head)
                .send()
                .await
                .unwrap()
        }
    };
    let msgs = |o: &aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsOutput| -> Vec<String> {
        o.events()
            .iter()
            .filter_map(|e| e.message().map(str::to_string))
            .collect()
    };
    let first = get(None, Some(true)).await;
    assert_eq!(msgs(&first), ["m0", "m1"]);
    let second = get(first.next_forward_token().map(str::to_string), None).await;
    assert_eq!(msgs(&second), ["m2", "m3"]);
    let third = get(second.next_forward_token().map(str::to_string), None).await;
    assert_eq!(msgs(&third), ["m4"]);
    let end = get(third.next_forward_token().map(str::to_string), None).await;
    assert!(msgs(&end).is_empty());
    assert_eq!(
        end.next_forward_token(),
        third.next_forward_token(),
        "the same token at the end"
    );
    // Without startFromHead the newest come first, and backward tokens go further back.
    let latest = get(None, None).await;
    assert_eq!(msgs(&latest), ["m3", "m4"]);
    let before = get(latest.next_backward_token().map(str::to_string), None).await;
    assert_eq!(msgs(&before), ["m1", "m2"]);
    let window = logs
        .get_log_events()
        .log_group_name("g")
        .log_stream_name("s")
        .start_time(t + 1000)
        .end_time(t + 3000)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    assert_eq!(msgs(&window), ["m1", "m2"], "startTime inclusive, endTime exclusive");
}

#[tokio::test]
async fn filter_patterns_match_terms_json_and_fields_across_streams() {
    let h = Haneul::start();
    let logs = h.logs();
    group_with_streams(&logs, "app", &["web", "worker"]).await;
    let t = now_ms() - 60_000;
    put(
        &logs,
        "app",
        "web",
        vec![
            event(t, r#"{"level":"ERROR","status":503,"path":"/api/users"}"#),
            event(
                t + 2,
                r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.0" 404 2326"#,
            ),
            event(t + 4, "GET /api/orders 200 WARN slow"),
        ],
    )
    .await;
    put(
        &logs,
        "app",
        "worker",
        vec![
            event(t + 1, r#"{"level":"INFO","status":200,"path":"/jobs"}"#),
            event(t + 3, "ERROR Exiting: lease lost"),
            event(t + 5, "ERROR retrying in 5s"),
        ],
    )
    .await;
    assert_eq!(
        filter(&logs, "app", "ERROR -Exiting").await,
        [
            r#"{"level":"ERROR","status":503,"path":"/api/users"}"#,
            "ERROR retrying in 5s"
        ]
    );
    assert_eq!(
        filter(&logs, "app", "\"GET /api\" ?WARN ?ERROR").await,
        ["GET /api/orders 200 WARN slow"]
    );
    assert_eq!(
        filter(&logs, "app", "{ $.status >= 500 && $.path = \"/api/*\" }").await,
        [r#"{"level":"ERROR","status":503,"path":"/api/users"}"#]
    );
    assert_eq!(filter(&logs, "app", "{ $.level = INFO }").await.len(), 1);
    assert_eq!(
        filter(
            &logs,
            "app",
            "[ip, id, user, timestamp, request = *GET*, status = 4*, bytes > 1000]"
        )
        .await,
        [r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.0" 404 2326"#]
    );
    let all = filter(&logs, "app", "").await;
    assert_eq!(all.len(), 6);
    assert!(
        all[0].contains("503") && all[1].contains("INFO") && all[5].contains("retrying"),
        "time order across streams: {all:?}"
    );
    let e = logs
        .filter_log_events()
        .log_group_name("app")
        .filter_pattern("{ $.status = }")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");

    // Paging: two events a page, interleaved, every event once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name("app")
            .limit(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        seen.extend(
            page.events()
                .iter()
                .map(|e| (e.timestamp().unwrap(), e.log_stream_name().unwrap().to_string())),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let stamps: Vec<i64> = seen.iter().map(|(ts, _)| *ts - t).collect();
    assert_eq!(stamps, [0, 1, 2, 3, 4, 5]);
    assert_eq!(seen[1].1, "worker");
    let only_worker = logs
        .filter_log_events()
        .log_group_name("app")
        .log_stream_names("worker")
        .filter_pattern("ERROR")
        .send()
        .await
        .unwrap();
    assert_eq!(only_worker.events().len(), 2);
}

#[tokio::test]
#[allow(deprecated)] // TagLogGroup and friends: the old tagging API, which Logs still serves.
async fn metric_and_subscription_filters_are_stored_and_tested() {
    let h = Haneul::start();
    let logs = h.logs();
    group_with_streams(&logs, "g", &[]).await;
    let transformation = MetricTransformation::builder()
        .metric_name("Errors")
        .metric_namespace("App")
        .metric_value("1")
        .build()
        .unwrap();
    logs.put_metric_filter()
        .log_group_name("g")
        .filter_name("errors")
        .filter_pattern("ERROR")
        .metric_transformations(transformation.clone())
        .send()
        .await
        .unwrap();
    let e = logs
        .put_metric_filter()
        .log_group_name("g")
        .filter_name("bad")
        .filter_pattern("\"unclosed")
        .metric_transformations(transformation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidParameterException");
    let d = logs.describe_metric_filters().log_group_name("g").send().await.unwrap();
    assert_eq!(d.metric_filters().len(), 1);
    assert_eq!(
        d.metric_filters()[0].metric_transformations()[0].metric_name(),
        "Errors"
    );
    let groups = logs.describe_log_groups().send().await.unwrap();
    assert_eq!(groups.log_groups()[0].metric_filter_count(), Some(1));
    let tested = logs
        .test_metric_filter()
        .filter_pattern("[ip, user, status = 5*]")
        .log_event_messages("10.0.0.1 kim 503")
        .log_event_messages("10.0.0.2 lee 200")
        .send()
        .await
        .unwrap();
    assert_eq!(tested.matches().len(), 1);
    assert_eq!(tested.matches()[0].event_number(), 1);
    assert_eq!(
        tested.matches()[0]
            .extracted_values()
            .unwrap()
            .get("$user")
            .map(String::as_str),
        Some("kim")
    );
    for name in ["one", "two"] {
        logs.put_subscription_filter()
            .log_group_name("g")
            .filter_name(name)
            .filter_pattern("")
            .destination_arn("arn:aws:lambda:us-east-1:000000000000:function:f")
            .send()
            .await
            .unwrap();
    }
    let e = logs
        .put_subscription_filter()
        .log_group_name("g")
        .filter_name("three")
        .filter_pattern("")
        .destination_arn("arn:aws:lambda:us-east-1:000000000000:function:f")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceededException", "two subscription filters per group");
    let d = logs
        .describe_subscription_filters()
        .log_group_name("g")
        .send()
        .await
        .unwrap();
    assert_eq!(d.subscription_filters().len(), 2);
    logs.delete_subscription_filter()
        .log_group_name("g")
        .filter_name("one")
        .send()
        .await
        .unwrap();
    let e = logs
        .delete_metric_filter()
        .log_group_name("g")
        .filter_name("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");

    // Tags, by name and by ARN (with or without the trailing :*).
    let arn = "arn:aws:logs:us-east-1:000000000000:log-group:g:*";
    logs.tag_resource()
        .resource_arn(arn)
        .tags("team", "core")
        .send()
        .await
        .unwrap();
    logs.tag_log_group()
        .log_group_name("g")
        .tags("env", "dev")
        .send()
        .await
        .unwrap();
    let tags = logs
        .list_tags_for_resource()
        .resource_arn("arn:aws:logs:us-east-1:000000000000:log-group:g")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap().len(), 2);
    logs.untag_log_group()
        .log_group_name("g")
        .tags("env")
        .send()
        .await
        .unwrap();
    let old = logs.list_tags_log_group().log_group_name("g").send().await.unwrap();
    assert_eq!(old.tags().unwrap().keys().collect::<Vec<_>>(), ["team"]);
}

#[tokio::test]
async fn insights_queries_filter_sort_and_count() {
    let h = Haneul::start();
    let logs = h.logs();
    group_with_streams(&logs, "/app", &["a", "b"]).await;
    let t = now_ms() - 60_000;
    put(
        &logs,
        "/app",
        "a",
        vec![
            event(t, r#"{"status":500,"path":"/x"}"#),
            event(t + 1, r#"{"status":200,"path":"/y"}"#),
        ],
    )
    .await;
    put(&logs, "/app", "b", vec![event(t + 2, r#"{"status":502,"path":"/z"}"#)]).await;
    let run = |q: &str| {
        let logs = logs.clone();
        let q = q.to_string();
        async move {
            let id = logs
                .start_query()
                .log_group_name("/app")
                .start_time((t / 1000) - 60)
                .end_time((t / 1000) + 60)
                .query_string(q)
                .send()
                .await
                .unwrap()
                .query_id()
                .unwrap()
                .to_string();
            for _ in 0..100 {
                let r = logs.get_query_results().query_id(&id).send().await.unwrap();
                if r.status().map(|s| s.as_str()) == Some("Complete") {
                    return r
                        .results()
                        .iter()
                        .map(|row| {
                            row.iter()
                                .map(|f| (f.field().unwrap().to_string(), f.value().unwrap().to_string()))
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("query {id} never completed");
        }
    };
    let rows = run("fields path, status | filter status >= 500 | sort status desc").await;
    assert_eq!(
        rows,
        [
            vec![
                ("path".to_string(), "/z".to_string()),
                ("status".to_string(), "502".to_string())
            ],
            vec![
                ("path".to_string(), "/x".to_string()),
                ("status".to_string(), "500".to_string())
            ],
        ]
    );
    let rows = run("stats count(*) as n by @logStream | sort n desc").await;
    assert_eq!(
        rows[0],
        [
            ("@logStream".to_string(), "a".to_string()),
            ("n".to_string(), "2".to_string())
        ]
    );
    let rows = run("filter @message like /\\/y/ | limit 5").await;
    assert_eq!(rows.len(), 1);
    let e = logs
        .start_query()
        .log_group_name("/app")
        .start_time(0)
        .end_time(1)
        .query_string("explode everything")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedQueryException");
    let e = logs
        .start_query()
        .log_group_name("/missing")
        .start_time(0)
        .end_time(1)
        .query_string("limit 1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
}

#[tokio::test]
async fn retention_removes_expired_events_and_reset_removes_all() {
    // One retention "day" lasts a second here.
    let h = Haneul::start_with(haneul_testkit::Options {
        logs_retention_day_s: Some(1),
        logs_retention_interval_s: Some(1),
        ..Default::default()
    });
    let logs = h.logs();
    group_with_streams(&logs, "short", &["s"]).await;
    group_with_streams(&logs, "kept", &["s"]).await;
    logs.put_retention_policy()
        .log_group_name("short")
        .retention_in_days(1)
        .send()
        .await
        .unwrap();
    let now = now_ms();
    put(&logs, "short", "s", vec![event(now, "goes")]).await;
    put(&logs, "kept", "s", vec![event(now, "stays")]).await;
    assert_eq!(filter(&logs, "short", "").await, ["goes"]);
    let mut gone = false;
    for _ in 0..60 {
        if filter(&logs, "short", "").await.is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the event outlived its group's retention");
    assert_eq!(
        filter(&logs, "kept", "").await,
        ["stays"],
        "no retention, nothing removed"
    );

    let r = h.raw("POST", "/_haneul/reset", &[], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(logs.describe_log_groups().send().await.unwrap().log_groups().is_empty());
    group_with_streams(&logs, "kept", &["s"]).await;
    assert!(filter(&logs, "kept", "").await.is_empty());
}

#[tokio::test]
async fn route53_query_logging_writes_a_line_per_answered_query() {
    use hickory_proto::rr::RecordType;
    let h = Haneul::start();
    let logs = h.logs();
    let zone = crate::route53::create_zone(&h, "querylog.test").await;
    let arn = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/route53/querylog.test:*";
    let r53 = h.route53();
    let e = r53
        .create_query_logging_config()
        .hosted_zone_id(&zone)
        .cloud_watch_logs_log_group_arn(arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(|s| aws_sdk_route53::error::ProvideErrorMetadata::code(s)),
        Some("NoSuchCloudWatchLogsLogGroup")
    );
    logs.create_log_group()
        .log_group_name("/aws/route53/querylog.test")
        .send()
        .await
        .unwrap();
    logs.create_log_group()
        .log_group_name("/not/route53")
        .send()
        .await
        .unwrap();
    let e = r53
        .create_query_logging_config()
        .hosted_zone_id(&zone)
        .cloud_watch_logs_log_group_arn("arn:aws:logs:us-east-1:000000000000:log-group:/not/route53")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(|s| aws_sdk_route53::error::ProvideErrorMetadata::code(s)),
        Some("InvalidInput"),
        "the group must be named /aws/route53/…"
    );
    let made = r53
        .create_query_logging_config()
        .hosted_zone_id(&zone)
        .cloud_watch_logs_log_group_arn(arn)
        .send()
        .await
        .unwrap();
    let id = made.query_logging_config().unwrap().id().to_string();
    let e = r53
        .create_query_logging_config()
        .hosted_zone_id(&zone)
        .cloud_watch_logs_log_group_arn(arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(|s| aws_sdk_route53::error::ProvideErrorMetadata::code(s)),
        Some("QueryLoggingConfigAlreadyExists")
    );
    let listed = r53
        .list_query_logging_configs()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.query_logging_configs().len(), 1);

    // The DNS server picks the configuration up with the next snapshot; then every answer
    // from the zone is a line.
    let mut line = None;
    for _ in 0..50 {
        crate::support::dns_udp(h.dns_addr, "querylog.test.", RecordType::SOA, Some(1232)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let got = filter(&logs, "/aws/route53/querylog.test", "SOA").await;
        if let Some(first) = got.into_iter().next() {
            line = Some(first);
            break;
        }
    }
    let line = line.expect("no query log line appeared");
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 10, "{line}");
    assert_eq!(fields[0], "1.0");
    assert!(fields[1].ends_with('Z') && fields[1].contains('T'), "{line}");
    assert_eq!(&fields[2..7], [zone.as_str(), "querylog.test", "SOA", "NOERROR", "UDP"]);
    assert_eq!(&fields[8..], ["127.0.0.1", "-"]);
    crate::support::dns_tcp(h.dns_addr, "missing.querylog.test.", RecordType::A).await;
    crate::support::dns_udp_subnet(h.dns_addr, "www.querylog.test.", RecordType::AAAA, "198.51.100.0/24").await;
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines = filter(&logs, "/aws/route53/querylog.test", "NXDOMAIN").await;
        if lines.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains(" missing.querylog.test A NXDOMAIN TCP "),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with(" 198.51.100.0/24"), "{}", lines[1]);
    let streams = logs
        .describe_log_streams()
        .log_group_name("/aws/route53/querylog.test")
        .send()
        .await
        .unwrap();
    let stream = streams.log_streams()[0].log_stream_name().unwrap();
    assert!(stream.starts_with(&format!("{zone}/")), "{stream}");

    r53.delete_query_logging_config().id(&id).send().await.unwrap();
    let e = r53.get_query_logging_config().id(&id).send().await.unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(|s| aws_sdk_route53::error::ProvideErrorMetadata::code(s)),
        Some("NoSuchQueryLoggingConfig")
    );
}

#[tokio::test]
async fn haneul_logs_tail_prints_a_groups_events() {
    let h = Haneul::start();
    let logs = h.logs();
    group_with_streams(&logs, "/ecs/web", &["web/1", "web/2"]).await;
    let now = now_ms();
    put(
        &logs,
        "/ecs/web",
        "web/1",
        vec![event(now - 3000, "GET / 200"), event(now - 1000, "ERROR boom")],
    )
    .await;
    put(&logs, "/ecs/web", "web/2", vec![event(now - 2000, "GET /health 200")]).await;
    let tail = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_haneul"))
            .args(["logs", "tail", "/ecs/web", "--endpoint-url", &h.endpoint_url()])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "000000000000")
            .env("AWS_SECRET_ACCESS_KEY", "x")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, out, err) = tail(&[]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].ends_with(" web/1 GET / 200") && lines[1].ends_with(" web/2 GET /health 200"),
        "{out}"
    );
    assert!(lines[0].contains("+00:00 "), "times as the AWS CLI prints them: {out}");
    let (ok, out, _) = tail(&["--filter-pattern", "ERROR", "--format", "short"]);
    assert!(ok);
    assert!(
        out.trim_end().ends_with("+00:00 ERROR boom") && out.lines().count() == 1,
        "{out}"
    );
    let (ok, out, _) = tail(&["--since", "1500ms"]);
    assert!(!ok, "a unit tail does not know: {out}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_haneul"))
        .args(["logs", "tail", "/nope", "--endpoint-url", &h.endpoint_url()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ResourceNotFoundException"));
}
