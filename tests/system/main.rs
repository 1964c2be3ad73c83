//! System tests: the whole product against the AWS emulator and local chat receivers.
