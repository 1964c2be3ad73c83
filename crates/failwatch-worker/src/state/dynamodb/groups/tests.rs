//! [`DynamoGroupStore`] against moto's DynamoDB, which evaluates condition and update expressions and
//! enforces the 400 KB item limit: round trips, compare-and-set under concurrent writers, the index
//! under concurrent puts, removal, stale and expired entries, and both size limits.
//!
//! Library tests rather than system tests because the store is crate-private and the worker does not
//! call it yet; a test-only subcommand would put test code in the binary. Each test starts its own
//! moto on a loopback port, with the Python of `moto_server` as the system tests find it (on
//! `PATH`, else in the repository's `.venv` that scripts/bootstrap.sh creates; missing, the test fails
//! saying so), and kills it when done. The client is built for the emulator explicitly, so nothing is
//! read from the process environment.
//!
//! moto is served from one thread ([`SERVE_MOTO`]): `moto_server` handles each request on a thread of
//! its own and does not make a conditional write atomic with its condition, so two PutItems
//! conditional on one version both succeed now and then (the counter test ended at 98 of 100 on it).
//! DynamoDB applies the writes to one item one at a time; so does moto on one thread.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde_json::{Value, json};

use super::*;
use crate::state::dynamodb::group_items::entry_value;

const TABLE: &str = "failwatch-state";

/// moto's server on one thread, on the loopback port given as the first argument. The HTTP server of
/// one thread speaks HTTP/1.0, closing each connection after its answer, so no client can hold it.
const SERVE_MOTO: &str = "import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app),
           threaded=False, request_handler=MotoRequestHandler)";

/// A `moto_server` of one test, killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` in the repository's `.venv` (what `scripts/bootstrap.sh` installs), else on `PATH`.
/// The venv comes first: a `moto_server` on `PATH` may be a version manager's shim (pyenv's is a
/// shell script), whose neighbouring `python3` has no moto.
fn moto_server_path() -> PathBuf {
    let in_venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("moto_server"))
                .find(|candidate| candidate.is_file())
        })
    };
    in_venv
        .is_file()
        .then_some(in_venv)
        .or_else(on_path)
        .expect("moto_server is neither in .venv nor on PATH: run scripts/bootstrap.sh first")
}

/// The Python that runs `moto_server`: its script's `#!` line, else `python3` beside it.
fn moto_python() -> PathBuf {
    let script = moto_server_path();
    let shebang = std::fs::read_to_string(&script)
        .ok()
        .and_then(|text| Some(text.lines().next()?.strip_prefix("#!")?.trim().to_owned()));
    match shebang {
        Some(python) if !python.contains(' ') => PathBuf::from(python),
        _ => script.with_file_name("python3"),
    }
}

/// Starts moto ([`SERVE_MOTO`]) on a free loopback port and waits (at most 20 s) until it answers.
async fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(moto_python())
        .args(["-c", SERVE_MOTO, &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = format!("{}/moto-api/", moto.endpoint);
    while Instant::now() < deadline {
        if reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not answer on {}", moto.endpoint);
}

/// A client of `moto`, and the state table created on it as the deploy artefacts create it.
async fn table(moto: &Moto) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    let client = Client::from_conf(config);
    let pk = AttributeDefinition::builder()
        .attribute_name("pk")
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute");
    let key = KeySchemaElement::builder()
        .attribute_name("pk")
        .key_type(KeyType::Hash)
        .build()
        .expect("key");
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(pk)
        .key_schema(key)
        .send()
        .await
        .expect("CreateTable");
    client
}

/// A group store on the table of `client`.
fn store(client: &Client) -> Arc<DynamoGroupStore> {
    let table = Table::with_client(TABLE.into(), Duration::from_secs(5), client.clone());
    Arc::new(DynamoGroupStore::on(Arc::new(table)))
}

fn entry(key: &str, due: Option<i64>) -> GroupEntry {
    GroupEntry {
        key: key.to_owned(),
        due,
        scope: Some(format!("ecs-service:{key}")),
    }
}

/// The index item's attribute names, as stored.
async fn index_names(client: &Client) -> Vec<String> {
    let got = client
        .get_item()
        .table_name(TABLE)
        .key(PK, string(index_pk()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem");
    let mut names: Vec<String> = got.item.unwrap_or_default().into_keys().collect();
    names.sort();
    names
}

async fn open_keys(store: &DynamoGroupStore) -> Vec<String> {
    let mut keys: Vec<String> = store
        .open_groups()
        .await
        .expect("open_groups")
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    keys.sort();
    keys
}

/// Puts `body` under `key` as the version after `expected`: whether the compare-and-set won.
async fn put(
    store: &DynamoGroupStore,
    key: &str,
    body: &str,
    expected: Option<u64>,
    entry: &GroupEntry,
) -> bool {
    store
        .put(key, body, expected, Some(entry))
        .await
        .expect("put")
}

/// The body and version stored under `key`.
async fn stored(store: &DynamoGroupStore, key: &str) -> Option<(String, u64)> {
    let stored = store.get(key).await.expect("get")?;
    Some((stored.body, stored.version))
}

#[tokio::test]
async fn a_group_round_trips_and_a_write_on_a_stale_version_is_refused() {
    let moto = moto().await;
    let store = store(&table(&moto).await);
    assert!(store.durable());
    assert_eq!(store.get("chat\u{1f}svc").await.expect("get"), None);

    let key = "chat\u{1f}svc";
    let first = entry(key, Some(1_800_000_000));
    assert!(put(&store, key, "{\"n\":1}", None, &first).await);
    assert_eq!(stored(&store, key).await, Some(("{\"n\":1}".into(), 1)));
    assert_eq!(
        store.open_groups().await.expect("open"),
        vec![first.clone()]
    );

    // Another writer created it first / changed it first: the answer is false, nothing changes.
    assert!(!put(&store, key, "{\"n\":9}", None, &first).await);
    let second = entry(key, None);
    assert!(put(&store, key, "{\"n\":2}", Some(1), &second).await);
    assert!(!put(&store, key, "{\"n\":9}", Some(1), &second).await);
    assert_eq!(stored(&store, key).await, Some(("{\"n\":2}".into(), 2)));
    assert_eq!(store.open_groups().await.expect("open"), vec![second]);

    // A long key is hashed into the partition key and still reads back.
    let long = format!("chat\u{1f}{}", "k".repeat(3_000));
    assert!(put(&store, &long, "{}", None, &entry(&long, None)).await);
    assert_eq!(stored(&store, &long).await, Some(("{}".into(), 1)));
    assert!(open_keys(&store).await.contains(&long));
}

#[tokio::test]
async fn a_write_without_an_entry_changes_the_body_only_and_removal_still_takes_the_entry() {
    let moto = moto().await;
    let client = table(&moto).await;
    let store = store(&client);
    let key = "chat\u{1f}quiet";
    let first = entry(key, Some(1_800_000_000));
    assert!(put(&store, key, "{\"n\":1}", None, &first).await);
    assert!(
        store
            .put(key, "{\"n\":2}", Some(1), None)
            .await
            .expect("put")
    );
    assert!(
        !store
            .put(key, "{\"n\":9}", Some(1), None)
            .await
            .expect("put"),
        "a stale version is refused without an entry too"
    );
    assert_eq!(stored(&store, key).await, Some(("{\"n\":2}".into(), 2)));
    assert_eq!(store.open_groups().await.expect("open"), vec![first]);
    // The body kept the token its entry carries, so removing the group removes the entry.
    assert!(store.remove(key, 2).await.expect("remove"));
    assert_eq!(store.get(key).await.expect("get"), None);
    assert!(
        !index_names(&client).await.contains(&entry_name(key)),
        "the entry is gone"
    );
}

/// One read-modify-write of the counter in group `key`'s body, retried until its compare-and-set wins.
async fn increment(store: &DynamoGroupStore, key: &str) -> u32 {
    for attempt in 1.. {
        let stored = store.get(key).await.expect("get");
        let (n, expected) = match &stored {
            Some(stored) => {
                let body: Value = serde_json::from_str(&stored.body).expect("JSON body");
                (body["n"].as_u64().expect("n"), Some(stored.version))
            }
            None => (0, None),
        };
        let body = json!({ "n": n + 1 }).to_string();
        if put(store, key, &body, expected, &entry(key, None)).await {
            return attempt;
        }
    }
    unreachable!()
}

#[tokio::test]
async fn two_writers_incrementing_one_counter_fifty_times_each_end_at_one_hundred() {
    let moto = moto().await;
    let store = store(&table(&moto).await);
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut attempts = 0;
                for _ in 0..50 {
                    attempts += increment(&store, "chat\u{1f}counter").await;
                }
                attempts
            })
        })
        .collect();
    let mut attempts = 0;
    for writer in writers {
        attempts += writer.await.expect("writer");
    }
    let stored = store
        .get("chat\u{1f}counter")
        .await
        .expect("get")
        .expect("stored");
    let body: Value = serde_json::from_str(&stored.body).expect("JSON body");
    assert_eq!(body["n"], 100, "{attempts} attempts");
    assert_eq!(stored.version, 100);
    assert_eq!(
        open_keys(&store).await,
        vec!["chat\u{1f}counter".to_owned()]
    );
}

#[tokio::test]
async fn concurrent_puts_of_twenty_groups_all_reach_the_index() {
    let moto = moto().await;
    let store = store(&table(&moto).await);
    let puts: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let key = format!("chat\u{1f}svc-{i:02}");
                let entry = entry(&key, Some(1_800_000_000 + i));
                put(&store, &key, "{}", None, &entry).await
            })
        })
        .collect();
    for put in puts {
        assert!(put.await.expect("put task"));
    }
    let mut open = store.open_groups().await.expect("open_groups");
    open.sort_by(|a, b| a.key.cmp(&b.key));
    let expected: Vec<GroupEntry> = (0..20)
        .map(|i| entry(&format!("chat\u{1f}svc-{i:02}"), Some(1_800_000_000 + i)))
        .collect();
    assert_eq!(open, expected);
}

#[tokio::test]
async fn removal_takes_body_and_entry_and_stale_or_expired_entries_are_harmless() {
    let moto = moto().await;
    let client = table(&moto).await;
    let store = store(&client);
    for key in ["a", "b", "c"] {
        assert!(put(&store, key, "{}", None, &entry(key, Some(5))).await);
    }
    assert!(
        !store.remove("a", 2).await.expect("remove"),
        "wrong version"
    );
    assert!(store.remove("a", 1).await.expect("remove"));
    assert_eq!(stored(&store, "a").await, None);
    assert_eq!(open_keys(&store).await, ["b", "c"]);
    assert!(!store.remove("a", 1).await.expect("remove"), "gone already");

    // A crash between removing the body and its entry: the stale entry is still listed, its group
    // reads as gone, and creating the group again takes the entry over.
    client
        .delete_item()
        .table_name(TABLE)
        .key(PK, string(body_pk("b")))
        .send()
        .await
        .expect("DeleteItem");
    assert_eq!(open_keys(&store).await, ["b", "c"]);
    assert_eq!(stored(&store, "b").await, None);
    assert!(put(&store, "b", "{}", None, &entry("b", None)).await);
    assert!(
        store
            .open_groups()
            .await
            .expect("open")
            .contains(&entry("b", None))
    );

    // Removing a body whose group was created again meanwhile leaves the new group's entry.
    let old_token = "0000000000000000";
    store
        .remove_entry("b", old_token)
        .await
        .expect("remove_entry");
    assert_eq!(open_keys(&store).await, ["b", "c"]);

    // An entry past its expiry is left out and swept from the index.
    let expired = entry_value(&entry("gone", Some(5)), "t", 1_000);
    client
        .update_item()
        .table_name(TABLE)
        .key(PK, string(index_pk()))
        .update_expression("SET #e = :e")
        .expression_attribute_names("#e", entry_name("gone"))
        .expression_attribute_values(":e", expired)
        .send()
        .await
        .expect("UpdateItem");
    assert!(index_names(&client).await.contains(&entry_name("gone")));
    assert_eq!(open_keys(&store).await, ["b", "c"]);
    assert!(
        !index_names(&client).await.contains(&entry_name("gone")),
        "swept"
    );
}

#[tokio::test]
async fn a_body_or_an_index_over_dynamodbs_item_limit_is_a_clear_error_and_writes_no_body() {
    let moto = moto().await;
    let store = store(&table(&moto).await);
    let body = "x".repeat(MAX_ITEM_BYTES);
    let err = store
        .put("big", &body, None, Some(&entry("big", None)))
        .await
        .expect_err("over the item limit");
    let shown = crate::errors::chain(&err);
    assert!(
        shown.contains("over DynamoDB's 400 KB item limit"),
        "{shown}"
    );
    assert_eq!(store.get("big").await.expect("get"), None);
    assert_eq!(store.open_groups().await.expect("open"), Vec::new());

    // Entries with 100 KB scopes fill the index after three groups; the fourth is refused whole.
    let wide = |key: &str| GroupEntry {
        scope: Some("s".repeat(100 * 1024)),
        ..entry(key, None)
    };
    for key in ["w1", "w2", "w3"] {
        assert!(put(&store, key, "{}", None, &wide(key)).await);
    }
    let err = store
        .put("w4", "{}", None, Some(&wide("w4")))
        .await
        .expect_err("index full");
    let shown = crate::errors::chain(&err);
    assert!(
        shown.contains("the index of open groups is full"),
        "{shown}"
    );
    assert_eq!(
        store.get("w4").await.expect("get"),
        None,
        "no body without an entry"
    );
    assert_eq!(open_keys(&store).await, ["w1", "w2", "w3"]);
}
