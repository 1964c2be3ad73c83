//! The in-memory SQS emulators from npm (`tests/support/emulators`, installed by scripts/bootstrap.sh),
//! for what moto lacks: `local-aws-sqs` implements StartMessageMoveTask (native DLQ redrive) and, like
//! real SQS, sets `DeadLetterQueueSourceArn`. Each test starts its own process on a free loopback port;
//! it stops when dropped, and also when the test process dies, because it exits when its stdin closes.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{free_port, repo_root};

/// Which npm emulator to start; see `tests/support/emulators/serve.mjs`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeSqsKind {
    /// `local-aws-sqs` 2.0.2: SQS with StartMessageMoveTask / ListMessageMoveTasks.
    LocalAwsSqs,
}

impl NodeSqsKind {
    fn name(self) -> &'static str {
        match self {
            NodeSqsKind::LocalAwsSqs => "local-aws-sqs",
        }
    }
}

/// A running npm SQS emulator, killed when dropped.
#[derive(Debug)]
pub(crate) struct NodeSqs {
    child: Child,
    _stdin: ChildStdin,
    endpoint: String,
}

/// The Node.js that scripts/bootstrap.sh puts in `.venv/bin` (pinned, from PyPI), else `node` on PATH.
fn node_path() -> PathBuf {
    let in_venv = repo_root().join(".venv/bin/node");
    if in_venv.is_file() {
        in_venv
    } else {
        PathBuf::from("node")
    }
}

impl NodeSqs {
    /// Starts the emulator on a free loopback port and waits (at most 20 s) for its `ready` line.
    pub(crate) fn start(kind: NodeSqsKind) -> NodeSqs {
        let script = repo_root().join("tests/support/emulators/serve.mjs");
        assert!(
            script
                .with_file_name("node_modules")
                .join(kind.name())
                .is_dir(),
            "{} is not installed: run scripts/bootstrap.sh first",
            kind.name()
        );
        let port = free_port();
        let mut child = Command::new(node_path())
            .arg(&script)
            .args([kind.name(), &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start node for {}: {err}", kind.name()));
        let stdout = child.stdout.take().expect("emulator stdout");
        let (lines, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let line = ready
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{} did not report ready within 20 s", kind.name()));
        let endpoint = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("{} printed {line:?} instead of ready", kind.name()))
            .to_owned();
        let stdin = child.stdin.take().expect("emulator stdin");
        NodeSqs {
            child,
            _stdin: stdin,
            endpoint,
        }
    }

    /// The emulator's base URL (`http://127.0.0.1:<port>`), for `AWS_ENDPOINT_URL_SQS`.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for NodeSqs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
