//! Commands that run once and exit, as opposed to the long-running worker (`run`).

pub(crate) mod render;
